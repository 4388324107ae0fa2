import type { LabHost, LabProcess } from '@harddrive-party/test-lab'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import {
  browse,
  browseOf,
  type PeerLab,
  peerLabSkipReason,
  peersOf,
  readyOf,
  startPeerLab,
} from './peer-lab'

// Peer nodes as child processes in network namespaces behind real Linux NATs (test-lab: easy =
// MASQUERADE, hard = MASQUERADE --random-fully, both dropping unsolicited inbound), coturn as
// STUN and mosquitto on the lab's public network, reachable from behind every NAT. After every
// connect and reconnect each side browses the other's share (ls, ls of a folder, search).

const skip = peerLabSkipReason('peer-node NAT lab')
/** Birthday cut/reconnect cycles whose sockets are counted (the issue asks for 100: ~5 min). */
const CYCLES = Number(process.env.HDP_LAB_CYCLES ?? 10)

interface LabPeer {
  proc: LabProcess
  key: string
  /** The name of the folder it shares (`PeerLab.share`). */
  share: string
}

describe.skipIf(skip !== '')('peer nodes across real NATs', () => {
  let peerLab: PeerLab
  let lab: PeerLab['lab']
  let hosts: Record<string, LabHost>

  beforeAll(async () => {
    peerLab = await startPeerLab({
      nats: { A: 'easy', B: 'hard', C: 'easy' },
      hosts: { a: 'A', b: 'B', c: 'C' },
      prefix: 'hdp-peer-node-lab-',
    })
    lab = peerLab.lab
    hosts = peerLab.hosts
  }, 60_000)

  afterAll(() => peerLab?.stop())

  /** x and y browse each other's shares over their live connection. */
  async function browseBoth(x: LabPeer, y: LabPeer, label: string) {
    const started = Date.now()
    expect(await browse(x.proc, y.key, y.share)).toEqual(browseOf(y.share))
    expect(await browse(y.proc, x.key, x.share)).toEqual(browseOf(x.share))
    console.log(
      `${label}: both browsed each other (2 ls + 1 search each) in ${Date.now() - started} ms`,
    )
  }

  /** Starts x and y (x dials) and waits until both hold the connection. */
  async function connectPair(x: LabHost, y: LabHost, topic: string, expected: string) {
    const [dx, dy] = await peerLab.dirsWhereFirstDials(topic)
    const [sx, sy] = [`${topic}-x-share`, `${topic}-y-share`]
    const px = peerLab.start(x, { dir: dx, topic, share: await peerLab.share(sx) })
    const py = peerLab.start(y, { dir: dy, topic, share: await peerLab.share(sy) })
    const { key: kx, nat: natX } = await readyOf(px)
    const { key: ky, nat: natY } = await readyOf(py)
    const readyAt = Date.now()
    await px.waitForLine(`connect ${ky}`, { timeoutMs: 60_000 })
    await py.waitForLine(`connect ${kx}`, { timeoutMs: 60_000 })
    expect(kx < ky).toBe(true)
    const [dialer, dialerKey, acceptor] = [px, kx, py]
    const fromDialer = (await peersOf(dialer))[0]!
    const fromAcceptor = (await peersOf(acceptor))[0]!
    expect(fromDialer.connected).toBe(true)
    expect(fromDialer.attempt?.used).toBe(expected)
    expect(fromDialer.connection?.initiator).toBe(true)
    expect(fromDialer.connection?.carrier).toBe('udx')
    expect(fromAcceptor.hex).toBe(dialerKey)
    expect(fromAcceptor.connection?.initiator).toBe(false)
    // The dialer's connection info carries both NATs and the time it took.
    expect([fromDialer.attempt?.ourNat, fromDialer.attempt?.theirNat].sort()).toEqual(
      [natX, natY].sort(),
    )
    expect(fromDialer.attempt?.elapsedMs).toBeGreaterThan(0)
    console.log(
      `${natX}<->${natY}: connected ${Date.now() - readyAt} ms after both were ready; the dialer's last attempt took ${fromDialer.attempt?.elapsedMs} ms (${fromDialer.attempt?.tried.join(', ')})`,
    )
    const [lx, ly] = [
      { proc: px, key: kx, share: sx },
      { proc: py, key: ky, share: sy },
    ]
    await browseBoth(lx, ly, `${natX}<->${natY} after connect`)
    return { px, py, dialer, acceptor, lx, ly }
  }

  /** One side cuts the connection (no goodbye); both get a new one by themselves. */
  async function cutAndReconnect(cutter: LabProcess, other: LabProcess, technique: string) {
    const marks = [cutter.lines.length, other.lines.length] as const
    const started = Date.now()
    cutter.send('cut')
    await cutter.waitForLine(/^connect /, { after: marks[0], timeoutMs: 90_000 })
    await other.waitForLine(/^connect /, { after: marks[1], timeoutMs: 90_000 })
    const elapsed = Date.now() - started
    const [a, b] = [(await peersOf(cutter))[0]!, (await peersOf(other))[0]!]
    expect(a.connected && b.connected).toBe(true)
    const dialer = a.connection?.initiator ? a : b
    expect(dialer.attempt?.used).toBe(technique)
    return elapsed
  }

  it('easy <-> easy: simultaneous punch, one connection, UDX through both NATs; reconnects after a cut', async () => {
    const { px, py, dialer, acceptor, lx, ly } = await connectPair(
      hosts.a!,
      hosts.c!,
      'easy-easy',
      'simultaneous',
    )
    expect(px.lines.filter((l) => l.startsWith('connect '))).toHaveLength(1)
    expect(py.lines.filter((l) => l.startsWith('connect '))).toHaveLength(1)
    const tookMs = await cutAndReconnect(acceptor, dialer, 'simultaneous')
    console.log(`easy<->easy: reconnected ${tookMs} ms after the acceptor cut the connection`)
    await browseBoth(lx, ly, 'easy<->easy after a cut')
    // A silent drop on one side: the connect request brings the other in well before its
    // idle timeout (20 s) would.
    for (const [cutter, other, host, router] of [
      [acceptor, dialer, hosts.c!, 'C'],
      [dialer, acceptor, hosts.a!, 'A'],
    ] as const) {
      const silentMs = await silentCut(cutter, other, host, router)
      console.log(
        `easy<->easy: reconnected ${silentMs} ms after a silent cut (the other side did not notice)`,
      )
      expect(silentMs).toBeLessThan(10_000)
      await browseBoth(lx, ly, 'easy<->easy after a silent cut')
    }
    // Leaving the topic ends the connection it justified; joining again brings it back.
    const marks = [px.lines.length, py.lines.length] as const
    px.send('leave')
    await px.waitForLine(/^left$/, { after: marks[0], timeoutMs: 30_000 })
    await px.waitForLine(/^disconnect /, { after: marks[0], timeoutMs: 30_000 })
    await py.waitForLine(/^disconnect /, { after: marks[1], timeoutMs: 30_000 })
    const rejoined = Date.now()
    px.send('join')
    await px.waitForLine(/^connect /, { after: marks[0], timeoutMs: 90_000 })
    await py.waitForLine(/^connect /, { after: marks[1], timeoutMs: 90_000 })
    console.log(`easy<->easy: connected again ${Date.now() - rejoined} ms after leave + join`)
    await browseBoth(lx, ly, 'easy<->easy after leave and join')
    for (const p of [px, py]) await p.stop(3000)
  }, 300_000)

  /**
   * `cutter` (behind router `router`) drops its connection while its router forwards nothing
   * from it, so the goodbye never arrives: the other side still believes the connection live
   * and would notice only after its idle timeout (20 s). The cutter's connect request makes it
   * punch at once.
   */
  async function silentCut(cutter: LabProcess, other: LabProcess, host: LabHost, router: string) {
    // A request that reaches a peer within 2 s of its connection being made is taken for the
    // one that made it, and ignored: let the connection age past that first.
    await new Promise((resolve) => setTimeout(resolve, 2500))
    const marks = [cutter.lines.length, other.lines.length] as const
    const rule = ['FORWARD', '1', '-s', host.address, '-j', 'DROP']
    await lab.router(router).ns.exec('iptables', ['-I', ...rule])
    const started = Date.now()
    try {
      cutter.send('cut')
      await cutter.waitForLine(/^disconnect /, { after: marks[0], timeoutMs: 5000 })
      await new Promise((resolve) => setTimeout(resolve, 300))
    } finally {
      await lab
        .router(router)
        .ns.exec('iptables', ['-D', 'FORWARD', '-s', host.address, '-j', 'DROP'])
    }
    await cutter.waitForLine(/^connect /, { after: marks[0], timeoutMs: 60_000 })
    await other.waitForLine(/^connect /, { after: marks[1], timeoutMs: 60_000 })
    const elapsed = Date.now() - started
    // The other side never saw the old connection end before the new one replaced it.
    expect(other.lines.slice(marks[1]).some((l) => l.startsWith('disconnect '))).toBe(false)
    return elapsed
  }

  /** `hard` is the hard-NAT side: cycles of cut + reconnect must not leak its birthday sockets. */
  async function cyclesLeakNoSocket(hard: LabProcess, easy: LabProcess, label: string) {
    const fds = async () => {
      await new Promise((resolve) => setTimeout(resolve, 4000)) // holepunch's 3 s linger
      const from = hard.lines.length
      hard.send('fds')
      return Number((await hard.waitForLine(/^fds /, { after: from })).split(' ')[1])
    }
    const before = await fds()
    const times: number[] = []
    for (let i = 0; i < CYCLES; i++) {
      times.push(await cutAndReconnect(i % 2 ? easy : hard, i % 2 ? hard : easy, 'birthday'))
    }
    const after = await fds()
    console.log(
      `${label}: ${CYCLES} cut/reconnect cycles, reconnect ms ${times.join(' ')}; hard side fds ${before} -> ${after}`,
    )
    expect(after - before).toBeLessThanOrEqual(2)
  }

  it('easy <-> hard, the easy side dials: birthday, one connection, reconnects, leaks no socket', async () => {
    const { px, py, lx, ly } = await connectPair(hosts.a!, hosts.b!, 'easy-hard', 'birthday')
    expect(px.lines.filter((l) => l.startsWith('connect '))).toHaveLength(1)
    expect(py.lines.filter((l) => l.startsWith('connect '))).toHaveLength(1)
    const tookMs = await cutAndReconnect(px, py, 'birthday')
    console.log(`easy<->hard: reconnected ${tookMs} ms after the dialer cut the connection`)
    await browseBoth(lx, ly, 'easy<->hard after a cut')
    // The hard side drops the connection silently: its connect request starts the easy side.
    const silentMs = await silentCut(py, px, hosts.b!, 'B')
    console.log(`easy<->hard: reconnected ${silentMs} ms after a silent cut on the hard side`)
    // Without the request the easy side would notice only after its 20 s idle timeout.
    expect(silentMs).toBeLessThan(20_000)
    await browseBoth(lx, ly, 'easy<->hard after a silent cut')
    // The hard side accepts on its birthday socket, which then belongs to that connection.
    await cyclesLeakNoSocket(py, px, 'easy dials hard')
    await browseBoth(lx, ly, `easy<->hard after ${CYCLES} cycles`)
    for (const p of [px, py]) await p.stop(3000)
  }, 600_000)

  it('hard <-> easy, the hard side dials: birthday, dials from its winning socket, leaks no socket', async () => {
    const { px, py, lx, ly } = await connectPair(hosts.b!, hosts.c!, 'hard-easy', 'birthday')
    expect(px.lines.filter((l) => l.startsWith('connect '))).toHaveLength(1)
    expect(py.lines.filter((l) => l.startsWith('connect '))).toHaveLength(1)
    await cyclesLeakNoSocket(px, py, 'hard dials easy')
    await browseBoth(lx, ly, `hard<->easy after ${CYCLES} cycles`)
    for (const p of [px, py]) await p.stop(3000)
  }, 600_000)
})
