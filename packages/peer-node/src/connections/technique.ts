import type { LocalNat } from '@harddrive-party/holepunch'
import { planPunch } from '@harddrive-party/holepunch/internal'
import type { Announcement, NatType } from '@harddrive-party/wire-protocol'

/** How a connection was (or is being) made; shown by the connection doctor. */
export type Technique =
  /** Dial a LAN address (found by mDNS, or both behind the same public IP). */
  | 'lan'
  /** Dial an address as announced (the acceptor is open, or nobody knows its NAT). */
  | 'direct'
  /** Dial the acceptor's global IPv6 address: no NAT on the way (both sides have IPv6). */
  | 'ipv6'
  /** Both sides punch at once (easy↔easy, open↔NAT, unknown NATs), then the dialer dials. */
  | 'simultaneous'
  /** easy↔hard: the hard side opens 256 mappings, the easy side sprays ports. */
  | 'birthday'
  /** hard↔hard with sequential port allocation on both. */
  | 'port-prediction'
  /** Through a TURN server's relayed address (hard↔hard: punching cannot work). */
  | 'turn'
  /** A peer remembered from an earlier run, dialled at its last addresses. */
  | 'remembered'
  /** The remote dialled us. */
  | 'accepted'
  /** Through a member that relays (hard↔hard): ciphertext forwarded by it, no direct path. */
  | 'relay'

export interface DialAddress {
  host: string
  port: number
}

export interface ConnectPlan {
  /** Tried in order by the dialer before any punch (short timeout each). */
  direct: DialAddress[]
  /** Both sides must punch: the dialer dials over the punched path afterwards. */
  punch: Technique | undefined
  /** Set when nothing can work (hard↔hard): why, in words. */
  unreachable?: string
}

/**
 * Chooses what to do from both NAT reports, identically on both sides (the dialer's NAT and
 * the acceptor's decide, not who computes): the dialer first dials what can answer without a
 * punch (LAN addresses, an open acceptor, or anything when a NAT type is unknown); both sides
 * punch unless the acceptor is reachable as is.
 */
export function planConnection(input: {
  local: LocalNat
  remote: Pick<Announcement, 'nat' | 'portAllocation' | 'addresses'>
  via: 'mqtt' | 'mdns'
  weDial: boolean
  /** We announce a global IPv6 address (bound dual-stack): then we can dial theirs. */
  localIpv6?: boolean
}): ConnectPlan {
  const plan = planIpv4(input)
  if (!input.localIpv6 || input.via === 'mdns') return plan
  // Both sides on IPv6: the dialer dials the acceptor's global IPv6 addresses before anything
  // else; the IPv4 plan (punch included) stays as the fallback for a firewalled IPv6.
  const v6 = input.remote.addresses.filter(
    (a) => a.kind === 'public' && a.port > 0 && a.host.includes(':'),
  )
  if (v6.length === 0) return plan
  if (!input.weDial) return plan.unreachable !== undefined ? { ...plan, direct: [] } : plan
  const rest = plan.direct.filter((d) => !d.host.includes(':'))
  const { unreachable: _, ...reachable } = plan
  return { ...reachable, direct: [...v6.map(plain), ...rest] }
}

function planIpv4(input: Parameters<typeof planConnection>[0]): ConnectPlan {
  const { local, remote, via, weDial } = input
  const addresses = remote.addresses.filter((a) => a.port > 0)
  const lan = addresses.filter((a) => a.kind === 'lan').map(plain)
  // IPv6 addresses are dialled only by a peer that has IPv6 itself (planConnection).
  const announced = addresses.filter((a) => a.kind !== 'lan' && !a.host.includes(':')).map(plain)
  if (via === 'mdns') return { direct: weDial ? lan : [], punch: undefined }

  const ourHost = local.publicAddress?.host
  const theirHosts = remote.addresses.filter((a) => a.kind !== 'lan').map((a) => a.host)
  if (ourHost !== undefined && theirHosts.includes(ourHost) && lan.length > 0) {
    return { direct: weDial ? lan : [], punch: undefined } // same NAT: most NATs do not hairpin
  }
  const acceptorNat: NatType = weDial ? remote.nat : local.nat
  if (acceptorNat === 'open') return { direct: weDial ? announced : [], punch: undefined }

  const plan = planPunch(local, {
    nat: remote.nat,
    ...pa(remote.portAllocation),
    addresses: remote.addresses.filter((a) => !a.host.includes(':')), // punching is IPv4's
  })
  if (!plan.ok) {
    if (plan.code === 'RELAY_REQUIRED')
      return { direct: [], punch: undefined, unreachable: plan.reason }
    return {
      direct: weDial ? [...lan, ...announced] : [],
      punch: undefined,
      unreachable: plan.reason,
    }
  }
  // With an unknown NAT on either side a plain dial may work (an offline LAN, loopback): the
  // dialer tries it first, while both sides also punch.
  const unknown = local.nat === 'unknown' || remote.nat === 'unknown'
  const punch: Technique = plan.technique === 'direct' ? 'simultaneous' : plan.technique
  return { direct: weDial && unknown ? [...lan, ...announced] : [], punch }
}

function plain(a: { host: string; port: number }): DialAddress {
  return { host: a.host, port: a.port }
}

function pa<T>(value: T | undefined): { portAllocation?: T } {
  return value === undefined ? {} : { portAllocation: value }
}
