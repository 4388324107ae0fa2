import type { NatType, PortAllocation } from '@harddrive-party/wire-protocol'
import { normalizeHost, type SocketAddress, sameAddress } from './datagram-socket'
import type { StunBinding } from './stun-client'

/** What STUN told us about our NAT, and how sure we are. */
export interface NatReport {
  nat: NatType
  portAllocation: PortAllocation
  /**
   * Our public address as the first answering server saw it. For an easy NAT or no NAT, peers can
   * send to exactly this; for a hard NAT only the host is useful (the port differs per peer).
   */
  publicAddress?: SocketAddress
  /** Local port of the socket the requests were sent from. */
  localPort: number
  /** Every answer, in the order the first request to each destination was sent. */
  bindings: StunBinding[]
  /** Ports the NAT moved between consecutive new destinations (hard NATs), for port prediction. */
  portSteps: number[]
  /** One line saying why we concluded what we did (for a connection doctor). */
  reason: string
}

/** A step this small between consecutive mappings is a sequential allocator, not chance. */
export const MAX_SEQUENTIAL_STEP = 16

/**
 * Classifies the NAT from STUN answers sent from one local port to several destinations:
 * mapped equals a local address → `open`; the same mapping for every destination → `easy`
 * (endpoint-independent mapping); different mappings → `hard` (endpoint-dependent), with the
 * port-allocation pattern when it can be seen; too little data → `unknown`.
 */
export function classifyNat(input: {
  localPort: number
  localAddresses: readonly string[]
  bindings: readonly StunBinding[]
}): NatReport {
  const { localPort } = input
  const bindings = [...input.bindings]
  const base = { localPort, bindings, portSteps: [] as number[] }
  const first = bindings[0]
  if (first === undefined) {
    return { ...base, nat: 'unknown', portAllocation: 'unknown', reason: 'no STUN server answered' }
  }
  const publicAddress = { ...first.mapped }
  const locals = new Set(input.localAddresses.map(normalizeHost))
  const preserving = bindings.every((b) => b.mapped.port === localPort)
  const destinations = distinct(bindings.map((b) => b.server))

  if (
    bindings.every((b) => locals.has(normalizeHost(b.mapped.host)) && b.mapped.port === localPort)
  ) {
    return {
      ...base,
      publicAddress,
      nat: 'open',
      portAllocation: 'preserving',
      reason: 'the mapped address is one of our own addresses: no NAT',
    }
  }
  if (destinations.length < 2) {
    return {
      ...base,
      publicAddress,
      nat: 'unknown',
      portAllocation: preserving ? 'preserving' : 'unknown',
      reason: 'only one STUN destination answered: cannot tell how the NAT maps ports',
    }
  }
  const mappings = distinct(bindings.map((b) => b.mapped))
  if (mappings.length === 1) {
    return {
      ...base,
      publicAddress,
      nat: 'easy',
      portAllocation: preserving ? 'preserving' : 'unknown',
      reason: `the same mapping for ${destinations.length} destinations: endpoint-independent`,
    }
  }
  // A new mapping per destination: steps between consecutive new mappings show the allocator.
  const ports = mappings.map((m) => m.port)
  const portSteps = ports.slice(1).map((p, i) => p - ports[i]!)
  const sequential = portSteps.every((s) => s >= 1 && s <= MAX_SEQUENTIAL_STEP)
  const last = mappings[mappings.length - 1]!
  return {
    ...base,
    portSteps,
    publicAddress: { ...last },
    nat: 'hard',
    portAllocation: sequential ? 'sequential' : 'random',
    reason: `${mappings.length} different mappings for ${destinations.length} destinations: endpoint-dependent, ports ${ports.join(', ')}`,
  }
}

function distinct(addresses: readonly SocketAddress[]): SocketAddress[] {
  const out: SocketAddress[] = []
  for (const a of addresses) if (!out.some((o) => sameAddress(o, a))) out.push(a)
  return out
}
