import { BlockList } from 'node:net'
import type { AddressKind, NatType, PortAllocation } from '@harddrive-party/wire-protocol'
import { type AddressClass, classifyAddress, isIPv4 } from '@harddrive-party/wire-protocol/internal'
import { isIpLiteral, normalizeHost, type SocketAddress, sameAddress } from './datagram-socket'
import type { HolepunchErrorCode } from './errors'
import type { PunchRole, PunchTechnique } from './progress'

/** What we know about our own side (usually from `detectNat`). */
export interface LocalNat {
  nat: NatType
  portAllocation?: PortAllocation
  /** Our public address as STUN saw it; its host tells whether the peer shares our NAT. */
  publicAddress?: SocketAddress
}

/** What the peer announced (wire-protocol's `Announcement` fits). */
export interface RemotePeer {
  nat: NatType
  portAllocation?: PortAllocation
  /** Its addresses; port 0 means unknown (the public address of a hard NAT). */
  addresses: ReadonlyArray<{ host: string; port: number; kind?: AddressKind }>
}

export interface PlanOptions {
  /**
   * Our own subnets as CIDRs (`192.168.1.7/24`, as `os.networkInterfaces()` gives them): a LAN
   * address outside all of them is never a candidate, so a peer that claims our public IP can
   * only point us at hosts on our own links. Default: unknown, no such restriction.
   */
  localSubnets?: readonly string[]
}

export type PunchPlan =
  | {
      ok: true
      technique: PunchTechnique
      role: PunchRole
      /** Addresses probed from the main socket from the start. */
      candidates: SocketAddress[]
      /** Birthday easy side: the hard side's public IP, probed at random ports. */
      sprayHost?: string
      /** Birthday hard side: the easy side's public address, opened from every socket. */
      openTarget?: SocketAddress
    }
  | { ok: false; technique?: PunchTechnique; code: HolepunchErrorCode; reason: string }

/** Ports predicted past the last one seen, for each side's sequential NAT. */
export const PREDICTION_WINDOW = 32

/**
 * Chooses how to connect from both sides' NAT types. Both peers run it with the roles swapped
 * and reach matching plans: same public IP → direct to LAN addresses; either side open → direct;
 * easy↔easy (or unknown) → simultaneous; easy↔hard → birthday (the hard side opens many sockets,
 * the easy side probes random ports); hard↔hard → port prediction when both allocate sequentially,
 * else `RELAY_REQUIRED`.
 */
export function planPunch(
  local: LocalNat,
  announced: RemotePeer,
  options: PlanOptions = {},
): PunchPlan {
  // Announcements are untrusted: only IP literals that can be a peer are ever sent to.
  const subnets = options.localSubnets && subnetList(options.localSubnets)
  const remote = {
    ...announced,
    addresses: announced.addresses.filter((a) => isTarget(a, subnets)),
  }
  // A LAN address of a peer on another network could be anyone's on ours: only public ones here.
  const usable = withPort(remote.addresses.filter((a) => a.kind !== 'lan'))
  const publicHosts = remote.addresses
    .filter((a) => a.kind !== 'lan')
    .map((a) => normalizeHost(a.host))
  const ourHost = local.publicAddress ? normalizeHost(local.publicAddress.host) : undefined

  if (ourHost !== undefined && publicHosts.includes(ourHost)) {
    // Behind the same NAT: LAN addresses work without any NAT in the way (most NATs do not hairpin).
    // Anyone can claim our public IP; `isTarget` keeps the LAN addresses on our own subnets.
    const lan = withPort(remote.addresses.filter((a) => a.kind === 'lan'))
    if (lan.length > 0) return { ok: true, technique: 'direct', role: 'both', candidates: lan }
  }
  if (local.nat === 'open' || remote.nat === 'open') {
    // Someone can be reached as is. An open side with nothing to send to waits for the peer's probe.
    if (usable.length === 0 && local.nat !== 'open') return noAddress('direct')
    return { ok: true, technique: 'direct', role: 'both', candidates: usable }
  }
  const pair = `${local.nat}<->${remote.nat}`
  if (local.nat === 'easy' && remote.nat === 'hard') {
    const host = remote.addresses.find((a) => a.kind !== 'lan')?.host
    if (host === undefined) return noAddress('birthday', 'the hard-NAT peer announced no public IP')
    return {
      ok: true,
      technique: 'birthday',
      role: 'birthday-easy',
      candidates: [],
      sprayHost: host,
    }
  }
  if (local.nat === 'hard' && remote.nat === 'easy') {
    const target = remote.addresses.find((a) => a.kind !== 'lan' && a.port > 0)
    if (target === undefined)
      return noAddress('birthday', 'the easy-NAT peer announced no public address')
    return {
      ok: true,
      technique: 'birthday',
      role: 'birthday-hard',
      candidates: [],
      openTarget: { host: target.host, port: target.port },
    }
  }
  if (local.nat === 'hard' && remote.nat === 'hard') {
    const target = remote.addresses.find((a) => a.kind !== 'lan' && a.port > 0)
    if (local.portAllocation === 'sequential' && remote.portAllocation === 'sequential' && target) {
      return {
        ok: true,
        technique: 'port-prediction',
        role: 'both',
        candidates: predictPorts(target, PREDICTION_WINDOW),
      }
    }
    const why =
      local.portAllocation === 'sequential' || remote.portAllocation === 'sequential'
        ? 'only one side allocates ports sequentially, so neither mapping can be predicted for the other'
        : 'both NATs map each destination to an unpredictable port'
    return {
      ok: false,
      technique: 'port-prediction',
      code: 'RELAY_REQUIRED',
      reason: `hard<->hard: ${why}; hole punching cannot work, use a relay`,
    }
  }
  // easy<->easy, or a side whose NAT is unknown: try the cheap symmetric punch. Without STUN on
  // either side we cannot tell whether we share a network (an offline LAN), so LAN addresses too.
  const mayShareNetwork = ourHost === undefined || publicHosts.length === 0
  const candidates = mayShareNetwork ? withPort(remote.addresses) : usable
  if (candidates.length === 0 && local.nat !== 'unknown') {
    return noAddress('simultaneous', `${pair}: the peer announced no address with a port`)
  }
  return { ok: true, technique: 'simultaneous', role: 'both', candidates }
}

/**
 * The ports a sequential NAT will hand out next, after the `last` one STUN saw: both sides send
 * to the peer's next ports in the same order, so the i-th new mapping on one side meets the i-th
 * on the other.
 */
export function predictPorts(last: SocketAddress, count: number, step = 1): SocketAddress[] {
  const out: SocketAddress[] = []
  for (let i = 1; i <= count; i++) {
    const port = last.port + i * step
    if (port > 65535) break
    out.push({ host: last.host, port })
  }
  return out
}

/** Classes that are never a peer, whatever kind an announcement gives them. */
const NEVER_TARGETS: ReadonlySet<AddressClass> = new Set([
  'unspecified',
  'multicast',
  'broadcast',
  'link-local',
  'reserved',
])
/**
 * Classes a LAN address may have. Public addresses are not held to `global` here: labs and tests
 * run "public" networks on private and loopback ranges, and wire-protocol already refuses those
 * as `public` in announcements from the network.
 */
const LAN_CLASSES: ReadonlySet<AddressClass> = new Set(['private', 'loopback'])

function isTarget(a: RemotePeer['addresses'][number], subnets: BlockList | undefined): boolean {
  if (!isIpLiteral(a.host)) return false
  const cls = classifyAddress(a.host)
  if (NEVER_TARGETS.has(cls)) return false
  if (a.kind !== 'lan') return true
  if (!LAN_CLASSES.has(cls)) return false
  const host = normalizeHost(a.host)
  return subnets === undefined || subnets.check(host, isIPv4(host) ? 'ipv4' : 'ipv6')
}

function subnetList(cidrs: readonly string[]): BlockList {
  const list = new BlockList()
  for (const cidr of cidrs) {
    const [address = '', prefix] = cidr.split('/')
    if (!isIpLiteral(address)) continue
    const family = isIPv4(address) ? 'ipv4' : 'ipv6'
    list.addSubnet(address, Number(prefix ?? (family === 'ipv4' ? 32 : 128)), family)
  }
  return list
}

function withPort(addresses: RemotePeer['addresses']): SocketAddress[] {
  const out: SocketAddress[] = []
  for (const a of addresses) {
    if (!Number.isInteger(a.port) || a.port < 1 || a.port > 65535) continue
    if (!out.some((o) => sameAddress(o, a))) out.push({ host: a.host, port: a.port })
  }
  return out
}

function noAddress(
  technique: PunchTechnique,
  reason = 'the peer announced no address we can send to',
): PunchPlan {
  return { ok: false, technique, code: 'NO_REMOTE_ADDRESS', reason }
}
