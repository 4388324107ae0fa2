import type { LocalNat, RemotePeer } from '@harddrive-party/holepunch'
import { planPunch, predictPorts } from '@harddrive-party/holepunch/internal'
import type { NatType, PortAllocation } from '@harddrive-party/wire-protocol'
import { describe, expect, it } from 'vitest'

interface Peer {
  nat: NatType
  portAllocation: PortAllocation
  lan: { host: string; port: number }
  publicAddress?: { host: string; port: number }
}
const peers: Record<string, Peer> = {
  open: {
    nat: 'open',
    portAllocation: 'preserving',
    lan: { host: '198.51.100.1', port: 4000 },
    publicAddress: { host: '198.51.100.1', port: 4000 },
  },
  easy: {
    nat: 'easy',
    portAllocation: 'preserving',
    lan: { host: '192.168.1.2', port: 4001 },
    publicAddress: { host: '203.0.113.1', port: 4001 },
  },
  easy2: {
    nat: 'easy',
    portAllocation: 'unknown',
    lan: { host: '192.168.7.2', port: 4002 },
    publicAddress: { host: '203.0.113.2', port: 51000 },
  },
  hard: {
    nat: 'hard',
    portAllocation: 'random',
    lan: { host: '10.0.0.2', port: 4003 },
    publicAddress: { host: '203.0.113.3', port: 33333 },
  },
  hard2: {
    nat: 'hard',
    portAllocation: 'random',
    lan: { host: '10.1.0.2', port: 4004 },
    publicAddress: { host: '203.0.113.4', port: 44444 },
  },
  seq: {
    nat: 'hard',
    portAllocation: 'sequential',
    lan: { host: '10.2.0.2', port: 4005 },
    publicAddress: { host: '203.0.113.5', port: 40000 },
  },
  seq2: {
    nat: 'hard',
    portAllocation: 'sequential',
    lan: { host: '10.3.0.2', port: 4006 },
    publicAddress: { host: '203.0.113.6', port: 50000 },
  },
  unknown: { nat: 'unknown', portAllocation: 'unknown', lan: { host: '192.168.9.2', port: 4007 } },
}
const asLocal = (p: Peer): LocalNat => ({
  nat: p.nat,
  portAllocation: p.portAllocation,
  ...(p.publicAddress ? { publicAddress: p.publicAddress } : {}),
})
/** What a peer announces: LAN address, and public one (port 0 when a random hard NAT hides it). */
const asRemote = (p: Peer): RemotePeer => ({
  nat: p.nat,
  portAllocation: p.portAllocation,
  addresses: [
    { ...p.lan, kind: 'lan' },
    ...(p.publicAddress
      ? [
          {
            host: p.publicAddress.host,
            port: p.nat === 'hard' && p.portAllocation === 'random' ? 0 : p.publicAddress.port,
            kind: 'public' as const,
          },
        ]
      : []),
  ],
})

describe('planPunch', () => {
  it.each([
    ['open', 'easy', 'direct'],
    ['open', 'hard', 'direct'],
    ['easy', 'easy2', 'simultaneous'],
    ['easy', 'unknown', 'simultaneous'],
    ['easy', 'hard', 'birthday'],
    ['seq', 'seq2', 'port-prediction'],
  ])('%s <-> %s: both sides choose %s', (x, y, technique) => {
    const xy = planPunch(asLocal(peers[x]!), asRemote(peers[y]!))
    const yx = planPunch(asLocal(peers[y]!), asRemote(peers[x]!))
    expect(xy).toMatchObject({ ok: true, technique })
    expect(yx).toMatchObject({ ok: true, technique })
  })

  it('gives the birthday roles to the right sides', () => {
    const easy = planPunch(asLocal(peers.easy!), asRemote(peers.hard!))
    const hard = planPunch(asLocal(peers.hard!), asRemote(peers.easy!))
    expect(easy).toMatchObject({ role: 'birthday-easy', sprayHost: '203.0.113.3', candidates: [] })
    expect(hard).toMatchObject({
      role: 'birthday-hard',
      openTarget: { host: '203.0.113.1', port: 4001 },
    })
  })

  it('never probes a LAN address of a peer on another network, only public ones', () => {
    const plan = planPunch(asLocal(peers.easy!), asRemote(peers.easy2!))
    expect(plan).toMatchObject({ candidates: [{ host: '203.0.113.2', port: 51000 }] })
  })

  it('goes direct to LAN addresses when both sit behind the same public IP, whatever the NATs', () => {
    const behindSame = { ...peers.hard2!, publicAddress: { host: '203.0.113.3', port: 1 } }
    const plan = planPunch(asLocal(peers.hard!), asRemote(behindSame))
    expect(plan).toMatchObject({ ok: true, technique: 'direct', candidates: [behindSame.lan] })
  })

  it('hard <-> hard needs a relay unless both allocate sequentially', () => {
    for (const [x, y] of [
      ['hard', 'hard2'],
      ['seq', 'hard'],
      ['hard', 'seq'],
    ] as const) {
      const plan = planPunch(asLocal(peers[x]!), asRemote(peers[y]!))
      expect(plan).toMatchObject({ ok: false, code: 'RELAY_REQUIRED' })
      if (!plan.ok) expect(plan.reason).toMatch(/use a relay/)
    }
    const plan = planPunch(asLocal(peers.seq!), asRemote(peers.seq2!))
    expect(plan.ok && plan.candidates[0]).toEqual({ host: '203.0.113.6', port: 50001 })
  })

  it('says NO_REMOTE_ADDRESS when there is nothing to send to', () => {
    const portless: RemotePeer = {
      nat: 'easy',
      addresses: [{ host: '203.0.113.1', port: 0, kind: 'public' }],
    }
    expect(planPunch(asLocal(peers.hard!), portless)).toMatchObject({
      ok: false,
      code: 'NO_REMOTE_ADDRESS',
    })
    expect(planPunch(asLocal(peers.easy!), { nat: 'hard', addresses: [] })).toMatchObject({
      ok: false,
      code: 'NO_REMOTE_ADDRESS',
    })
  })

  it('predicts the next ports of a sequential NAT, never past 65535', () => {
    expect(predictPorts({ host: 'h', port: 100 }, 3)).toEqual(
      [101, 102, 103].map((port) => ({ host: 'h', port })),
    )
    expect(predictPorts({ host: 'h', port: 65534 }, 3)).toHaveLength(1)
  })
})

describe('planPunch without STUN', () => {
  it('tries LAN addresses too when a side could not learn its public address (an offline LAN)', () => {
    const a: Peer = { ...peers.unknown!, lan: { host: '192.168.9.2', port: 4007 } }
    const b: Peer = { ...peers.unknown!, lan: { host: '192.168.9.3', port: 4008 } }
    expect(planPunch(asLocal(a), asRemote(b))).toMatchObject({
      ok: true,
      technique: 'simultaneous',
      candidates: [b.lan],
    })
  })
})

describe('planPunch with hostile announcements', () => {
  it('only ever sends to IP literals with a valid port', () => {
    const remote: RemotePeer = {
      nat: 'easy',
      addresses: [
        { host: 'evil.example', port: 4000, kind: 'public' },
        { host: '203.0.113.9', port: 70000, kind: 'public' },
        { host: '203.0.113.9', port: 4001, kind: 'public' },
        { host: '203.0.113.9', port: 4001, kind: 'public' },
      ],
    }
    expect(planPunch(asLocal(peers.easy!), remote)).toMatchObject({
      candidates: [{ host: '203.0.113.9', port: 4001 }],
    })
  })
})
