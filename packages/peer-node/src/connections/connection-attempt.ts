import type { PeerFound } from '@harddrive-party/discovery'
import type { HolePuncher, LocalNat, PunchResult } from '@harddrive-party/holepunch'
import type { Connection, Transport } from '@harddrive-party/transport'
import type { Logger, NatType, TopicKeys } from '@harddrive-party/wire-protocol'
import { derivePunchSecret, isDialer } from '@harddrive-party/wire-protocol/internal'
import { describeError } from '../errors'
import type { ConnectionRegistry } from './connection-registry'
import { ipv6Targets, openIpv6Pinholes } from './ipv6-pinhole'
import { type AttemptInfo, best, type PeerState, REQUEST_INTERVAL_MS } from './peer-state'
import { viaRelay } from './relay-attempt'
import { type DialAddress, planConnection, type Technique } from './technique'
import { connectViaTurn, planTurn, type TurnAccess, type TurnPlan } from './turn-connect'

/** What one attempt to reach a peer uses (the connector's options without its scheduling). */
export interface AttemptOptions {
  transport: Transport
  puncher: HolePuncher
  registry: ConnectionRegistry
  publicKey: Uint8Array
  /** Our NAT now (the last report). */
  localNat: () => LocalNat
  /** Whether we announce a global IPv6 address (then we dial a peer's IPv6 first). */
  hasIpv6?: () => boolean
  log: Logger
  /** Each direct dial (LAN, open peer, remembered address) gives up after this. Default 3000. */
  directTimeoutMs?: number
  /** After a punch, how long the acceptor waits for the dialer's connection. Default 15000. */
  acceptWaitMs?: number
  /**
   * Asks the peer, through discovery, to punch now (docs/protocol.md §6.2): sent before each
   * punch, so a peer that did not notice the drop joins in at once.
   */
  requestConnect?: (topic: TopicKeys, key: Uint8Array) => Promise<boolean>
  /** Passed to holepunch's `punch` (tests shorten the timeouts). */
  punchOptions?: { timeoutMs?: number }
  /** The last resort when no technique can work (hard↔hard): a connection through a relay. */
  relayDial?: (key: Uint8Array, topic: TopicKeys, signal: AbortSignal) => Promise<Connection>
  /** Our TURN allocation: used (or the peer's dialled) when punching cannot work. */
  turn?: TurnAccess
}

/** IPs the peer was authenticated from: its reconnect punches skip the per-IP limit. */
export type VerifiedHosts = (state: PeerState) => Iterable<string>

function isIpv4Address(a: { host: string }): boolean {
  return !a.host.includes(':')
}

/**
 * Starts the doctor's record of a new attempt, carrying over the counts of the last one. A look
 * for a direct path while relayed (`upgrading`) keeps what made the live connection.
 */
export function beginAttempt(
  state: PeerState,
  local: LocalNat,
  theirNat: NatType,
  via: AttemptInfo['via'],
  upgrading = false,
): AttemptInfo {
  const old = state.info
  state.startedAt = Date.now()
  const info: AttemptInfo = {
    ourNat: local.nat,
    theirNat,
    via,
    tried: [],
    attempts: (old?.attempts ?? 0) + 1,
    failures: old?.failures ?? 0,
    ...(old?.failure !== undefined ? { failure: old.failure } : {}),
    ...(upgrading && old?.used !== undefined ? { used: old.used } : {}),
    ...(upgrading && old?.elapsedMs !== undefined ? { elapsedMs: old.elapsedMs } : {}),
    ...(old?.nextUpgradeAt !== undefined ? { nextUpgradeAt: old.nextUpgradeAt } : {}),
  }
  state.info = info
  return info
}

/**
 * One attempt at an announced peer: plan the techniques from both NATs, dial directly where the
 * plan allows (if we are the dialer), then punch and dial, or punch and wait for the peer's dial;
 * where nothing direct can work, TURN, then a relaying member (docs/connectivity.md, "Which
 * relay"). While the live connection is relayed, only what would replace it is tried (an
 * upgrade), and the relayed connection stays up meanwhile.
 * Throws with every failure in words; resolves once connected (or when the peer is to dial us).
 */
export async function attemptConnection(
  o: AttemptOptions,
  verifiedHosts: VerifiedHosts,
  state: PeerState,
  signal: AbortSignal,
): Promise<void> {
  const found = best(state)
  if (found === undefined) return
  const topic = found.topic
  const local = o.localNat()
  const remote = found.announcement
  const weDial = isDialer(o.publicKey, state.key)
  const localIpv6 = o.hasIpv6?.() ?? false
  const input = { local, remote, via: found.via, weDial, localIpv6 }
  const plan = planConnection(input)
  // Both on IPv6: the acceptor opens its firewall towards the dialer (simultaneous open).
  const bothIpv6 = localIpv6 && found.via === 'mqtt' && ipv6Targets(remote.addresses).length > 0
  if (bothIpv6 && !weDial) openIpv6Pinholes(o.transport.socket, remote.addresses, signal, o.log)
  // TURN where IPv4 punching cannot work (with IPv6 on both sides: after the IPv6 dial).
  const v4 = bothIpv6 ? planConnection({ ...input, localIpv6: false }) : plan
  const turn =
    v4.unreachable !== undefined && v4.direct.length === 0
      ? planTurn({ ourRelayed: o.turn?.relayed(), remote, weDial })
      : undefined
  // A connection the peer asked us to replace (connect request) does not count as its dial.
  const before = o.registry.get(state.hex)
  const path = before === undefined ? undefined : o.registry.pathOf(before)
  // Relayed already: a relay of the same kind or worse would not replace it.
  const upgrading = path === 'relay' || path === 'turn'
  const useTurn = turn !== undefined && path !== 'turn' ? turn : undefined
  // Nothing direct or punched can work: TURN when either side holds an allocation, else a
  // member that relays (docs/connectivity.md, "Which relay").
  const unreachable = plan.unreachable !== undefined && plan.direct.length === 0
  if (unreachable && useTurn === undefined && upgrading) return // nothing better
  const info = beginAttempt(state, local, remote.nat, found.via, upgrading)
  const viaTurn = async (turn: TurnPlan): Promise<void> => {
    info.tried.push('turn')
    requestConnect(o, state, found, upgrading)
    const { connection, dialled } = await connectViaTurn(turn, {
      ...o,
      key: state.key,
      hex: state.hex,
      topic,
      signal,
      before,
      timeoutMs: o.acceptWaitMs ?? 15_000,
      phase: (phase) => {
        state.attempt!.phase = phase
      },
    })
    if (dialled) {
      o.registry.markTurn(connection)
      return connected(o, state, info, 'turn', connection)
    }
    // While we waited, the peer may have reached us over IPv6 or a relaying member instead.
    const came = o.registry.pathOf(connection)
    info.used = came !== 'direct' ? came : bothIpv6 ? 'ipv6' : 'accepted'
    info.elapsedMs = Date.now() - state.startedAt
    delete info.failure
  }
  /** IPv4 cannot connect the pair: TURN, then a member that relays (a dialer's job). */
  const viaRelays = async (reason: string): Promise<void> => {
    let why = reason
    if (useTurn !== undefined) {
      // A TURN server the pair cannot use (down, or filtered for one side): a relaying member
      // in the same attempt. Both sides fail TURN after the same wait, so both move on.
      if (upgrading || o.relayDial === undefined) return viaTurn(useTurn)
      try {
        return await viaTurn(useTurn)
      } catch (err) {
        if (signal.aborted) throw signal.reason
        why = `${why}; ${describeError(err)}`
        o.log('%s: TURN failed, trying a relaying member: %s', state.hex.slice(0, 8), why)
      }
    }
    return viaRelay(
      {
        key: state.key,
        weDial,
        info,
        signal,
        ...(o.relayDial !== undefined ? { dial: o.relayDial } : {}),
        connected: (connection) => connected(o, state, info, 'relay', connection),
        waitForDial: () => {
          if (state.attempt) state.attempt.phase = 'wait'
          return o.registry.waitFor(state.hex, o.acceptWaitMs ?? 15_000, signal, before)
        },
        startedAt: state.startedAt,
      },
      topic,
      why,
    )
  }
  if (unreachable) return viaRelays(plan.unreachable!)
  const failures: string[] = []
  if (weDial) {
    const technique: Technique = found.via === 'mdns' || plan.punch === undefined ? 'lan' : 'direct'
    for (const address of plan.direct) {
      info.tried.push(
        address.host.includes(':') && found.via === 'mqtt'
          ? 'ipv6'
          : remote.nat === 'open' && found.via === 'mqtt'
            ? 'direct'
            : technique,
      )
      const connection = await dialDirect(o, state, address, topic, signal, failures)
      if (connection) return connected(o, state, info, info.tried.at(-1)!, connection)
    }
  }
  if (plan.punch === undefined) {
    // Both on IPv6 and IPv4 cannot work, and our IPv6 dial failed: an IPv6 address that is
    // announced but dead must not leave the pair unconnected. The dialer goes on to the relays
    // (the acceptor waits for it, or joins its TURN attempt below).
    const v4Unreachable = v4.unreachable !== undefined && v4.direct.length === 0
    if (weDial && bothIpv6 && v4Unreachable && !upgrading)
      return viaRelays([...failures, v4.unreachable!].join('; '))
    if (useTurn !== undefined) return viaTurn(useTurn) // the IPv6 dial failed, or we wait for either
    if (weDial) throw new Error(failures.join('; ') || 'no address to dial')
    return // the dialer dials us; nothing to do until it does
  }
  info.tried.push(plan.punch)
  state.attempt!.phase = 'punch'
  requestConnect(o, state, found, upgrading)
  const secret = derivePunchSecret(topic, o.publicKey, state.key)
  let result: PunchResult
  try {
    result = await o.puncher.punch(
      // Punching is IPv4's: an IPv6 address announced first must not become the spray target.
      { secret, local, remote: { ...remote, addresses: remote.addresses.filter(isIpv4Address) } },
      { signal, ...o.punchOptions, verifiedHosts: [...verifiedHosts(state)] },
    )
  } catch (err) {
    if (signal.aborted) throw signal.reason
    throw new Error([...failures, `${plan.punch} punch: ${describeError(err)}`].join('; '), {
      cause: err,
    })
  }
  const { socket, created } = result
  try {
    if (weDial) {
      state.attempt!.phase = 'dial'
      const connection = await o.transport.dial(result.remote, state.key, {
        topic,
        signal,
        ...(created ? { socket } : {}),
      })
      return connected(o, state, info, plan.punch, connection, created ? socket : undefined)
    }
    state.attempt!.phase = 'wait'
    const waitMs = o.acceptWaitMs ?? 15_000
    const connection = await o.registry.waitFor(state.hex, waitMs, signal, before)
    if (connection === undefined)
      throw new Error(`${plan.punch} punch worked, but the peer did not dial within ${waitMs} ms`)
    if (created) o.registry.attachSocket(connection, socket)
    info.used = plan.punch
    info.elapsedMs = Date.now() - state.startedAt
    delete info.failure
  } catch (err) {
    if (created) await socket.close().catch(() => {})
    throw err
  }
}

/** A peer from the peer book: one direct try at each of its last addresses. */
export async function attemptRemembered(
  o: AttemptOptions,
  state: PeerState,
  topic: TopicKeys,
  addresses: DialAddress[],
  signal: AbortSignal,
): Promise<void> {
  const info = beginAttempt(state, { nat: 'unknown' }, 'unknown', 'remembered')
  const failures: string[] = []
  for (const address of addresses) {
    const connection = await dialDirect(o, state, address, topic, signal, failures)
    if (connection) return connected(o, state, info, 'remembered', connection)
  }
  throw new Error(failures.join('; ') || 'no remembered address')
}

function requestConnect(
  o: AttemptOptions,
  state: PeerState,
  found: PeerFound,
  /** A look for a direct path while relayed: the peer may not be looking at this moment. */
  upgrading = false,
): void {
  const send = o.requestConnect
  const now = Date.now()
  // First contact needs none: both sides act on each other's announcement.
  const needed = upgrading || state.reconnecting || (state.info?.failures ?? 0) > 0
  if (send === undefined || found.via !== 'mqtt' || !needed) return
  if (now - state.requestSentAt < REQUEST_INTERVAL_MS) return
  state.requestSentAt = now
  void send(found.topic, state.key).catch((err: unknown) => {
    o.log('%s: connect request not sent: %s', state.hex.slice(0, 8), describeError(err))
  })
}

async function dialDirect(
  o: AttemptOptions,
  state: PeerState,
  address: DialAddress,
  topic: TopicKeys,
  signal: AbortSignal,
  failures: string[],
): Promise<Connection | undefined> {
  const limitMs = o.directTimeoutMs ?? 3000
  const timeout = AbortSignal.timeout(limitMs)
  try {
    return await o.transport.dial(address, state.key, {
      topic,
      signal: AbortSignal.any([signal, timeout]),
    })
  } catch (err) {
    if (signal.aborted) throw signal.reason
    const why = timeout.aborted ? `no answer within ${limitMs} ms` : describeError(err)
    failures.push(`dial ${address.host}:${address.port}: ${why}`)
    return undefined
  }
}

function connected(
  o: AttemptOptions,
  state: PeerState,
  info: AttemptInfo,
  technique: Technique,
  connection: Connection,
  socket?: PunchResult['socket'],
): void {
  const live = o.registry.add(connection)
  if (socket !== undefined) {
    if (live) o.registry.attachSocket(connection, socket)
    else void socket.close().catch(() => {})
  }
  info.used = technique
  info.elapsedMs = Date.now() - state.startedAt
  delete info.failure
}
