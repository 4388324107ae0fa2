import { describe, expect, it } from 'vitest'
import { planConnection } from '../src/connections/technique'

const hard = { nat: 'hard' as const, portAllocation: 'random' as const }
const local = { ...hard, publicAddress: { host: '198.51.100.11', port: 4000 } }
const remote = {
  ...hard,
  addresses: [
    { host: '10.99.2.2', port: 5000, kind: 'lan' as const, tcp: false },
    { host: '2001:db8:2::2', port: 5000, kind: 'public' as const, tcp: false },
    { host: '198.51.100.12', port: 0, kind: 'public' as const, tcp: false },
  ],
}

describe('planConnection with IPv6', () => {
  it('hard<->hard with IPv6 on both sides: the dialer dials the IPv6 address, nothing is unreachable', () => {
    const plan = planConnection({ local, remote, via: 'mqtt', weDial: true, localIpv6: true })
    expect(plan.direct).toEqual([{ host: '2001:db8:2::2', port: 5000 }])
    expect(plan.unreachable).toBeUndefined()
    expect(plan.punch).toBeUndefined()
    // The acceptor waits for the dial instead of giving up.
    const acceptor = planConnection({ local, remote, via: 'mqtt', weDial: false, localIpv6: true })
    expect(acceptor.direct).toEqual([])
  })

  it('without IPv6 of our own we never dial theirs, and hard<->hard stays unreachable', () => {
    const plan = planConnection({ local, remote, via: 'mqtt', weDial: true, localIpv6: false })
    expect(plan.direct).toEqual([])
    expect(plan.unreachable).toMatch(/.+/)
  })

  it('IPv6 first, then the IPv4 plan (an open acceptor keeps its IPv4 address as the fallback)', () => {
    const open = {
      nat: 'open' as const,
      addresses: [
        { host: '2001:db8:2::2', port: 5000, kind: 'public' as const, tcp: false },
        { host: '198.51.100.12', port: 5000, kind: 'public' as const, tcp: false },
      ],
    }
    const plan = planConnection({ local, remote: open, via: 'mqtt', weDial: true, localIpv6: true })
    expect(plan.direct).toEqual([
      { host: '2001:db8:2::2', port: 5000 },
      { host: '198.51.100.12', port: 5000 },
    ])
  })
})
