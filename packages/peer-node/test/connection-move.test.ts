import {
  type Carrier,
  type Connection,
  createIdentity,
  createTransport,
  type Transport,
} from '@harddrive-party/transport'
import { testTopic } from '@harddrive-party/transport/testing'
import type { TopicKeys } from '@harddrive-party/wire-protocol'
import { afterEach, describe, expect, it } from 'vitest'
import { ConnectionRegistry, MOVE_MIN_AGE_MS } from '../src/connections/connection-registry'
import { defaultLogger } from '../src/logger'
import { waitUntil } from './helpers'

// The registry's carrier-move rule (a newer direct UDX connection replaces a direct TCP one live
// for MOVE_MIN_AGE_MS, whoever dialled either), with real transports on loopback and a clock
// the test moves, so the ages are exact and nothing waits 10 s.

const hex = (k: Uint8Array) => Buffer.from(k).toString('hex')
const started: Transport[] = []
afterEach(async () => {
  await Promise.allSettled(started.splice(0).map((t) => t.stop()))
})

/** One side whose registry reads `clock.now`; the test adds every connection itself. */
async function side(topic: TopicKeys, clock: { now: number }) {
  const transport = createTransport({
    identity: createIdentity(),
    topics: () => [topic],
    host: '127.0.0.1',
  })
  await transport.start()
  started.push(transport)
  const registry = new ConnectionRegistry(transport.publicKey, defaultLogger('test'), {
    now: () => clock.now,
    moveDrainMs: 1000,
  })
  return { transport, registry }
}

/** Two sides, the lower key first; `connect` dials from one to the other over one carrier. */
async function pair(name: string) {
  const clock = { now: 1_000_000 }
  const topic = await testTopic(name)
  const a = await side(topic, clock)
  const b = await side(topic, clock)
  const [lower, higher] = hex(a.transport.publicKey) < hex(b.transport.publicKey) ? [a, b] : [b, a]
  type Side = typeof a
  /** Dials from `from` to `to` over `carrier`; both registries are offered the connection. */
  const connect = async (from: Side, to: Side, carrier: Carrier) => {
    const accepting = new Promise<Connection>((resolve) =>
      to.transport.addEventListener('connection', ({ detail }) => resolve(detail), { once: true }),
    )
    const dialled = await from.transport.dial(
      { host: '127.0.0.1', port: to.transport.address().port },
      to.transport.publicKey,
      { topic, carriers: [carrier] },
    )
    const accepted = await accepting
    expect(dialled.carrier).toBe(carrier)
    return {
      dialled,
      accepted,
      liveOnDialler: from.registry.add(dialled),
      liveOnAcceptor: to.registry.add(accepted),
    }
  }
  /** The connection each side keeps for the other, as one session (same handshake hash). */
  const kept = () => {
    const onLower = lower.registry.get(hex(higher.transport.publicKey))
    const onHigher = higher.registry.get(hex(lower.transport.publicKey))
    expect(onLower).toBeDefined()
    expect(hex(onLower!.handshakeHash)).toBe(hex(onHigher!.handshakeHash))
    return onLower!
  }
  return { clock, lower, higher, connect, kept }
}

describe('moving a connection from TCP to UDX', () => {
  it('a newer UDX connection replaces a TCP one live for 10 s on both sides, even dialled by the higher key; the TCP one drains', async () => {
    const { clock, lower, higher, connect, kept } = await pair('move')
    const tcp = await connect(lower, higher, 'tcp')
    expect(kept().carrier).toBe('tcp')
    // A stream in flight on the TCP connection: the lower side asks, the higher answers.
    const incoming = tcp.accepted.incomingStreams()[Symbol.asyncIterator]()
    const asking = await tcp.dialled.openStream()
    await asking.write(new TextEncoder().encode('a read in flight'))
    await incoming.next()
    clock.now += MOVE_MIN_AGE_MS
    // The worst case for the old rule: the higher key dials the UDX connection.
    const udx = await connect(higher, lower, 'udx')
    expect(udx.liveOnDialler).toBe(true)
    expect(udx.liveOnAcceptor).toBe(true)
    expect(kept().carrier).toBe('udx')
    // The TCP connection is draining, not closed at once; its open stream is cut at the move's
    // short deadline (1 s here) on both sides.
    expect(tcp.dialled.closeReason).toBeUndefined()
    expect(lower.registry.drainingCount).toBe(1)
    expect(higher.registry.drainingCount).toBe(1)
    await waitUntil(
      'the TCP connection closed on both sides',
      () => tcp.dialled.closeReason !== undefined && tcp.accepted.closeReason !== undefined,
    )
    expect(udx.dialled.closeReason).toBeUndefined()
    expect(kept()).toBe(udx.accepted)
    expect(lower.registry.drainingCount).toBe(0)
  }, 30_000)

  it('within 10 s (the simultaneous-dial race) the dialler-key rule still decides: a UDX connection dialled by the higher key loses', async () => {
    const { clock, lower, higher, connect, kept } = await pair('move-race')
    const tcp = await connect(lower, higher, 'tcp')
    clock.now += MOVE_MIN_AGE_MS - 1
    const udx = await connect(higher, lower, 'udx')
    expect(udx.liveOnDialler).toBe(false)
    expect(udx.liveOnAcceptor).toBe(false)
    expect(kept()).toBe(tcp.dialled)
    await waitUntil('the UDX connection closed', () => udx.dialled.closeReason !== undefined)
    expect(tcp.dialled.closeReason).toBeUndefined()
  }, 30_000)

  it('the rule is one way: a newer TCP connection dialled by the higher key never replaces a UDX one live for long', async () => {
    const { clock, lower, higher, connect, kept } = await pair('move-back')
    const udx = await connect(lower, higher, 'udx')
    clock.now += 10 * MOVE_MIN_AGE_MS
    const tcp = await connect(higher, lower, 'tcp')
    expect(tcp.liveOnDialler).toBe(false)
    expect(tcp.liveOnAcceptor).toBe(false)
    expect(kept()).toBe(udx.dialled)
    expect(lower.registry.isCarrierMove(udx.dialled, tcp.accepted)).toBe(false)
    await waitUntil('the TCP connection closed', () => tcp.dialled.closeReason !== undefined)
    expect(udx.dialled.closeReason).toBeUndefined()
  }, 30_000)
})
