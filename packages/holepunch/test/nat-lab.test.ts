import { randomBytes } from 'node:crypto'
import { join } from 'node:path'
import type { RemotePeer } from '@harddrive-party/holepunch'
import {
  type LabHost,
  type LabProcess,
  NatLab,
  netnsSupport,
  skipReason,
} from '@harddrive-party/test-lab'
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest'

// Real Linux NATs in network namespaces (test-lab): easy = MASQUERADE, hard = MASQUERADE
// --random-fully, both dropping unsolicited inbound; coturn on the lab's public side at two
// addresses. Each peer is a child process in its own namespace running test/fixtures/peer.ts.

const support = netnsSupport()
if (!support.ok) console.warn(`holepunch NAT lab: ${skipReason(support)}`)
const fixture = join(import.meta.dirname, 'fixtures/peer.ts')

interface NatLine {
  nat: RemotePeer['nat']
  portAllocation: NonNullable<RemotePeer['portAllocation']>
  publicAddress?: { host: string; port: number }
  localPort: number
}
interface PunchedLine {
  technique: string
  remote: { host: string; port: number }
  created: boolean
  localPort: number
  packetsSent: number
  events: string[]
}
interface FailedLine {
  code: string
  message: string
  events: string[]
}
interface Side {
  host: LabHost
  proc: LabProcess
  nat: NatLine
  punched?: PunchedLine
  failed?: FailedLine
}

/** What a peer would announce: its LAN address, and its public one (port 0 when unpredictable). */
function announcement(host: LabHost, nat: NatLine): RemotePeer {
  const addresses: Array<RemotePeer['addresses'][number]> = [
    { host: host.address, port: nat.localPort, kind: 'lan' },
  ]
  if (nat.publicAddress) {
    const portKnown = nat.nat !== 'hard' || nat.portAllocation === 'sequential'
    addresses.push({
      host: nat.publicAddress.host,
      port: portKnown ? nat.publicAddress.port : 0,
      kind: 'public',
    })
  }
  return { nat: nat.nat, portAllocation: nat.portAllocation, addresses }
}

const parse = <T>(line: string): T => JSON.parse(line.slice(line.indexOf(' ') + 1)) as T

describe.skipIf(!support.ok)('hole punching across real NATs', () => {
  let lab: NatLab
  const hosts: Record<string, LabHost> = {}
  const running = new Set<LabProcess>()

  beforeAll(async () => {
    lab = await NatLab.create({ nats: { A: 'easy', B: 'hard', C: 'easy', D: 'hard' } })
    hosts.a = await lab.addHost('a', 'A')
    hosts.a2 = await lab.addHost('a2', 'A')
    hosts.b = await lab.addHost('b', 'B')
    hosts.c = await lab.addHost('c', 'C')
    hosts.d = await lab.addHost('d', 'D')
    hosts.o = await lab.addHost('o')
  }, 60_000)

  beforeEach(async () => {
    // Leftover mappings from an earlier case must not help (or hinder) the next one.
    for (const router of lab.routers.keys()) await lab.flushConntrack(router)
  })

  afterAll(async () => {
    await Promise.allSettled([...running].map((p) => p.stop(1000)))
    await lab?.destroy()
  })

  /**
   * Starts both peers, waits for their NAT reports, hands each the other's announcement (the
   * second one `delayMs` later: who starts first matters for the birthday method), and waits
   * for both outcomes and, on success, for data both ways.
   */
  async function pair(
    x: LabHost,
    y: LabHost,
    options: { delayMs?: number; xOptions?: object; yOptions?: object; stream?: boolean } = {},
  ): Promise<[Side, Side]> {
    const secret = randomBytes(32).toString('hex')
    const stun = lab.stunServers.map((s) => `${s.host}:${s.port}`).join(',')
    const start = (host: LabHost, punchOptions: object | undefined, ids: string): Side => {
      const args = [
        '--name',
        host.name,
        '--stun',
        stun,
        '--secret',
        secret,
        '--options',
        JSON.stringify(punchOptions ?? {}),
      ]
      if (options.stream) args.push('--stream', ids)
      const proc = host.ns.spawnNode(fixture, args)
      running.add(proc)
      return { host, proc, nat: undefined as unknown as NatLine }
    }
    const sx = start(x, options.xOptions, '1,2')
    const sy = start(y, options.yOptions, '2,1')
    sx.nat = parse<NatLine>(await sx.proc.waitForLine(/^nat /, { timeoutMs: 20_000 }))
    sy.nat = parse<NatLine>(await sy.proc.waitForLine(/^nat /, { timeoutMs: 20_000 }))
    sx.proc.send(`peer ${JSON.stringify(announcement(y, sy.nat))}`)
    if (options.delayMs) await new Promise((r) => setTimeout(r, options.delayMs))
    sy.proc.send(`peer ${JSON.stringify(announcement(x, sx.nat))}`)
    for (const side of [sx, sy]) {
      const line = await side.proc.waitForLine(/^(punched|failed) /, { timeoutMs: 45_000 })
      if (line.startsWith('punched')) side.punched = parse<PunchedLine>(line)
      else side.failed = parse<FailedLine>(line)
    }
    return [sx, sy]
  }

  async function finish(...sides: Side[]): Promise<void> {
    for (const s of sides) s.proc.send('exit')
    await Promise.all(sides.map((s) => s.proc.stop(3000)))
    for (const s of sides) running.delete(s.proc)
  }

  /** Both sides received the other's datagram over the punched path. */
  async function expectDataBothWays(x: Side, y: Side): Promise<void> {
    const fromY = parse<{ text: string }>(
      await x.proc.waitForLine(/^received /, { timeoutMs: 10_000 }),
    )
    const fromX = parse<{ text: string }>(
      await y.proc.waitForLine(/^received /, { timeoutMs: 10_000 }),
    )
    expect(fromY.text).toBe(`hello from ${y.host.name}`)
    expect(fromX.text).toBe(`hello from ${x.host.name}`)
  }

  it('open <-> easy: direct, data both ways', async () => {
    const [o, a] = await pair(hosts.o!, hosts.a!)
    try {
      expect(o.nat.nat).toBe('open')
      expect(a.nat.nat).toBe('easy')
      expect(a.nat.publicAddress?.host).toBe(lab.router('A').publicAddress)
      expect(o.failed).toBeUndefined()
      expect(a.failed).toBeUndefined()
      expect(o.punched?.technique).toBe('direct')
      expect(a.punched?.technique).toBe('direct')
      // The open peer sees the easy peer at its NAT's public address.
      expect(o.punched?.remote.host).toBe(lab.router('A').publicAddress)
      expect(a.punched?.remote).toEqual({ host: hosts.o!.address, port: o.nat.localPort })
      await expectDataBothWays(o, a)
    } finally {
      await finish(o, a)
    }
  })

  it('easy <-> easy: simultaneous punch, data both ways', async () => {
    const [a, c] = await pair(hosts.a!, hosts.c!)
    try {
      expect([a.nat.nat, c.nat.nat]).toEqual(['easy', 'easy'])
      expect(a.failed).toBeUndefined()
      expect(c.failed).toBeUndefined()
      expect(a.punched?.technique).toBe('simultaneous')
      expect(a.punched?.remote).toEqual(c.nat.publicAddress)
      expect(c.punched?.remote).toEqual(a.nat.publicAddress)
      expect(a.punched?.events).toEqual(
        expect.arrayContaining(['holepunch:attempt', 'holepunch:contact', 'holepunch:success']),
      )
      await expectDataBothWays(a, c)
    } finally {
      await finish(a, c)
    }
  })

  it('easy <-> hard: birthday method, then a UDX stream both ways over the winning socket', async () => {
    const [a, b] = await pair(hosts.a!, hosts.b!, { stream: true })
    try {
      expect(a.nat.nat).toBe('easy')
      expect(b.nat).toMatchObject({ nat: 'hard', portAllocation: 'random' })
      expect(a.failed).toBeUndefined()
      expect(b.failed).toBeUndefined()
      expect(a.punched).toMatchObject({ technique: 'birthday', created: false })
      expect(b.punched?.technique).toBe('birthday')
      // The easy side found one of the hard NAT's random ports; the hard side answers from the
      // socket whose mapping was hit, and sees the easy side at its one public mapping.
      expect(a.punched?.remote.host).toBe(lab.router('B').publicAddress)
      expect(b.punched?.remote).toEqual(a.nat.publicAddress)
      expect(b.punched?.events).toContain('holepunch:sockets')
      await expectDataBothWays(a, b)
      const streamA = parse<{ text: string }>(
        await a.proc.waitForLine(/^stream /, { timeoutMs: 10_000 }),
      )
      const streamB = parse<{ text: string }>(
        await b.proc.waitForLine(/^stream /, { timeoutMs: 10_000 }),
      )
      expect(streamA.text).toBe('stream hello from b')
      expect(streamB.text).toBe('stream hello from a')
      // Bounded: at most maxProbes (3000) mappings on the easy NAT, 257 on the hard one, plus STUN.
      expect(await lab.conntrackEntries('A')).toBeLessThanOrEqual(3000 + 16)
      expect(await lab.conntrackEntries('B')).toBeLessThanOrEqual(257 + 16)
    } finally {
      await finish(a, b)
    }
  })

  it('hard <-> easy: birthday with the hard side first and low-TTL opening packets', async () => {
    // TTL 2 crosses the hard NAT (one hop) and dies at the easy NAT: mappings open, nothing arrives.
    const [b, c] = await pair(hosts.b!, hosts.c!, { delayMs: 1000, xOptions: { openingTtl: 2 } })
    try {
      expect(b.failed).toBeUndefined()
      expect(c.failed).toBeUndefined()
      expect(b.punched).toMatchObject({ technique: 'birthday', created: true })
      expect(b.punched?.localPort).not.toBe(b.nat.localPort)
      expect(c.punched?.remote.host).toBe(lab.router('B').publicAddress)
      await expectDataBothWays(b, c)
    } finally {
      await finish(b, c)
    }
  })

  it('hard <-> hard: fails at once with RELAY_REQUIRED on both sides', async () => {
    const [b, d] = await pair(hosts.b!, hosts.d!)
    try {
      expect([b.nat.nat, d.nat.nat]).toEqual(['hard', 'hard'])
      for (const side of [b, d]) {
        expect(side.punched).toBeUndefined()
        expect(side.failed?.code).toBe('RELAY_REQUIRED')
        expect(side.failed?.message).toMatch(/use a relay/)
        expect(side.failed?.events).toEqual(['holepunch:attempt', 'holepunch:failure'])
      }
    } finally {
      await finish(b, d)
    }
  })

  it('two peers behind the same NAT: direct over the LAN', async () => {
    const [a, a2] = await pair(hosts.a!, hosts.a2!)
    try {
      expect(a.nat.publicAddress?.host).toBe(a2.nat.publicAddress?.host)
      expect(a.punched?.technique).toBe('direct')
      expect(a.punched?.remote).toEqual({ host: hosts.a2!.address, port: a2.nat.localPort })
      expect(a2.punched?.remote).toEqual({ host: hosts.a!.address, port: a.nat.localPort })
      await expectDataBothWays(a, a2)
    } finally {
      await finish(a, a2)
    }
  })
})
