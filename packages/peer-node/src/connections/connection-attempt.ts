import type { PeerFound } from '@harddrive-party/discovery'
import type { HolePuncher, LocalNat, PunchResult } from '@harddrive-party/holepunch'
import type { Connection, Transport } from '@harddrive-party/transport'
import type { Logger, NatType, TopicKeys } from '@harddrive-party/wire-protocol'
import { derivePunchSecret, isDialer } from '@harddrive-party/wire-protocol/internal'
import { describeError } from '../errors'
import type { ConnectionRegistry } from './connection-registry'
import { type AttemptInfo, best, type PeerState, REQUEST_INTERVAL_MS } from './peer-state'
import { type DialAddress, planConnection, type Technique } from './technique'

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
}

/** IPs the peer was authenticated from: its reconnect punches skip the per-IP limit. */
export type VerifiedHosts = (state: PeerState) => Iterable<string>

function isIpv4Address(a: { host: string }): boolean {
  return !a.host.includes(':')
}

/** Starts the doctor's record of a new attempt, carrying over the counts of the last one. */
export function beginAttempt(
  state: PeerState,
  local: LocalNat,
  theirNat: NatType,
  via: AttemptInfo['via'],
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
  }
  state.info = info
  return info
}

/**
 * One attempt at an announced peer: plan the techniques from both NATs, dial directly where the
 * plan allows (if we are the dialer), then punch and dial, or punch and wait for the peer's dial.
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
  const plan = planConnection({
    local,
    remote,
    via: found.via,
    weDial,
    localIpv6: o.hasIpv6?.() ?? false,
  })
  // A connection the peer asked us to replace (connect request) does not count as its dial.
  const before = o.registry.get(state.hex)
  const info = beginAttempt(state, local, remote.nat, found.via)
  if (plan.unreachable !== undefined && plan.direct.length === 0) throw new Error(plan.unreachable)
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
    if (weDial) throw new Error(failures.join('; ') || 'no address to dial')
    return // the dialer dials us; nothing to do until it does
  }
  info.tried.push(plan.punch)
  state.attempt!.phase = 'punch'
  requestConnect(o, state, found)
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

function requestConnect(o: AttemptOptions, state: PeerState, found: PeerFound): void {
  const send = o.requestConnect
  const now = Date.now()
  // First contact needs none: both sides act on each other's announcement.
  const needed = state.reconnecting || (state.info?.failures ?? 0) > 0
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
