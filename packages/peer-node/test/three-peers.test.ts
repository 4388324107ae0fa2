import type { PeerNode } from '@harddrive-party/peer-node'
import { afterEach, describe, expect, it } from 'vitest'
import { Cleanup, connectedTo, loopbackOptions, useMosquitto, waitUntil } from './helpers'

const broker = useMosquitto()
const cleanup = new Cleanup()
afterEach(() => cleanup.run())

const hexOf = (node: PeerNode) => Buffer.from(node.publicKey).toString('hex')

/** Every node holds exactly one transport-level connection to each of the others. */
function expectOneConnectionPerPair(nodes: PeerNode[]): void {
  for (const node of nodes) {
    const others = nodes
      .filter((n) => n !== node)
      .map(hexOf)
      .sort()
    expect(connectedTo(node)).toEqual(others)
    for (const other of others) {
      const live = node.connection(other)!
      const peerSide = nodes.find((n) => hexOf(n) === other)!.connection(hexOf(node))!
      // The same session on both sides.
      expect(Buffer.from(live.handshakeHash).equals(Buffer.from(peerSide.handshakeHash))).toBe(true)
    }
  }
}

describe('three peers in one process, MQTT through mosquitto, loopback', () => {
  it('each connects to the other two exactly once; the doctor shows how', async () => {
    const nodes: PeerNode[] = []
    const connects = new Map<PeerNode, string[]>()
    for (let i = 0; i < 3; i++) {
      const node = cleanup.node(loopbackOptions(await cleanup.dir(), broker.url))
      connects.set(node, [])
      node.addEventListener('peer:connect', ({ detail }) =>
        connects.get(node)!.push(detail.peer.hex),
      )
      nodes.push(node)
    }
    await Promise.all(nodes.map((n) => n.start()))
    for (const n of nodes) await n.join('three friends')
    const joined = Date.now()
    await waitUntil('every pair connected', () => nodes.every((n) => connectedTo(n).length === 2))
    console.log(
      `three peers on loopback: all three pairs connected ${Date.now() - joined} ms after the last join`,
    )
    // Let late duplicates (if any were made) show up before counting.
    await new Promise((resolve) => setTimeout(resolve, 500))
    expectOneConnectionPerPair(nodes)
    for (const node of nodes) {
      expect(connects.get(node)!.sort()).toEqual(connectedTo(node))
      for (const peer of node.peers()) {
        expect(peer.name).toMatch(/^[A-Z][a-z]+[A-Z][a-z]+/)
        expect(peer.topics).toEqual(['three friends'])
        expect(peer.announcedVia).toEqual(['mqtt'])
        expect(peer.connection?.topic).toBe('three friends')
        expect(peer.connection?.carrier).toMatch(/^(udx|tcp)$/)
        const weDialled = hexOf(node) < peer.hex
        expect(peer.connection?.initiator).toBe(weDialled)
        expect(peer.attempt?.ourNat).toBe('unknown')
        expect(peer.attempt?.used).toBe(weDialled ? 'direct' : 'accepted')
        expect(peer.attempt?.failure).toBeUndefined()
        expect(peer.attempt?.failures).toBe(0)
        expect(peer.connection?.rttMs).toBeGreaterThanOrEqual(0)
        expect(peer.connection?.connectedAt).toBeGreaterThan(joined - 1)
        expect(peer.connection?.bytesSent).toBeGreaterThan(0)
        expect(peer.connection?.bytesReceived).toBeGreaterThan(0)
      }
    }
  }, 30_000)

  it('leaving the topic closes its connections and stops announcing; rejoining reconnects', async () => {
    const [a, b] = [
      cleanup.node(loopbackOptions(await cleanup.dir(), broker.url)),
      cleanup.node(loopbackOptions(await cleanup.dir(), broker.url)),
    ] as [PeerNode, PeerNode]
    await Promise.all([a.start(), b.start()])
    await a.join('come and go')
    await b.join('come and go')
    await waitUntil('connected', () => connectedTo(a).length === 1 && connectedTo(b).length === 1)
    const gone = new Promise((resolve) =>
      b.addEventListener('peer:disconnect', resolve, { once: true }),
    )
    await a.leave('come and go')
    await gone
    expect(connectedTo(a)).toEqual([])
    await waitUntil('b forgot a', () => b.peers().length === 0)
    expect(a.store.topics.list()).toEqual([
      expect.objectContaining({ name: 'come and go', joined: false }),
    ])
    await a.join('come and go')
    await waitUntil('reconnected', () => connectedTo(a).length === 1 && connectedTo(b).length === 1)
  }, 30_000)

  it('a killed connection is made again while the peer is announced', async () => {
    const opts = { transport: { idleTimeoutMs: 3000, keepAliveMs: 500 } }
    const a = cleanup.node(loopbackOptions(await cleanup.dir(), broker.url, opts))
    const b = cleanup.node(loopbackOptions(await cleanup.dir(), broker.url, opts))
    await Promise.all([a.start(), b.start()])
    await a.join('sturdy')
    await b.join('sturdy')
    await waitUntil('connected', () => connectedTo(a).length === 1 && connectedTo(b).length === 1)
    for (const victim of [a, b]) {
      const other = victim === a ? b : a
      const first = victim.connection(hexOf(other))!
      first.destroy() // cut, no goodbye: the other side notices by silence
      await waitUntil(
        'a new connection on both sides',
        () => {
          const mine = victim.connection(hexOf(other))
          const theirs = other.connection(hexOf(victim))
          return (
            mine !== undefined &&
            mine !== first &&
            theirs !== undefined &&
            Buffer.from(mine.handshakeHash).equals(Buffer.from(theirs.handshakeHash))
          )
        },
        20_000,
      )
    }
  }, 60_000)

  it('start and stop are idempotent; stop before start is fine; stop leaves topics and peers see it', async () => {
    const a = cleanup.node(loopbackOptions(await cleanup.dir(), broker.url))
    const b = cleanup.node(loopbackOptions(await cleanup.dir(), broker.url))
    await a.stop()
    await Promise.all([a.start(), a.start(), b.start()])
    await a.join('lifecycle')
    await b.join('lifecycle')
    await waitUntil('connected', () => connectedTo(b).length === 1)
    await Promise.all([a.stop(), a.stop()])
    await waitUntil('b saw a go', () => connectedTo(b).length === 0 && b.peers().length === 0)
    expect(() => a.peers()).toThrow(/NOT_STARTED/)
    await a.start()
    expect(a.topics()).toEqual(['lifecycle'])
    await waitUntil('connected again after restart', () => connectedTo(b).length === 1)
  }, 30_000)
})
