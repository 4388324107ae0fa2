import {
  type Connection,
  createIdentity,
  createTransport,
  type Transport,
} from '@harddrive-party/transport'
import { duplexPair, testTopic } from '@harddrive-party/transport/testing'
import type { TopicKeys } from '@harddrive-party/wire-protocol'
import { afterEach, describe, expect, it } from 'vitest'
import { ConnectionRegistry } from '../src/connections/connection-registry'
import { defaultLogger } from '../src/logger'
import { waitUntil } from './helpers'

const hex = (k: Uint8Array) => Buffer.from(k).toString('hex')
const started: Transport[] = []
afterEach(async () => {
  await Promise.allSettled(started.splice(0).map((t) => t.stop()))
})

/** One side; accepted connections go to its registry unless `manual` (the test adds them). */
async function side(topic: TopicKeys, drainMs?: number, manual = false) {
  const transport = createTransport({
    identity: createIdentity(),
    topics: () => [topic],
    host: '127.0.0.1',
    // 100 handshakes from one address in a few seconds: above the default per-IP admission rate.
    limits: { handshakeBurst: 1000, handshakesPerSecond: 1000 },
  })
  await transport.start()
  started.push(transport)
  const registry = new ConnectionRegistry(transport.publicKey, defaultLogger('test'), {
    ...(drainMs !== undefined ? { drainMs } : {}),
  })
  if (!manual) transport.addEventListener('connection', ({ detail }) => registry.add(detail))
  return { transport, registry }
}

/** Open connections the transport holds to `key` (the losers must be closed, not just ignored). */
function openTo(transport: Transport, key: Uint8Array): Connection[] {
  return transport.connections().filter((c) => hex(c.remotePublicKey) === hex(key))
}

describe('one connection per peer pair', () => {
  it('both sides dial at the same moment, 50 times: exactly one survives, the same on both sides', async () => {
    const topic = await testTopic('race')
    const a = await side(topic)
    const b = await side(topic)
    const lower = hex(a.transport.publicKey) < hex(b.transport.publicKey) ? a : b
    const addressOf = (s: typeof a) => ({ host: '127.0.0.1', port: s.transport.address().port })
    for (let round = 0; round < 50; round++) {
      const [ab, ba] = await Promise.all([
        a.transport.dial(addressOf(b), b.transport.publicKey, { topic }),
        b.transport.dial(addressOf(a), a.transport.publicKey, { topic }),
      ])
      a.registry.add(ab)
      b.registry.add(ba)
      await waitUntil(`round ${round}: one connection each way, the same session`, () => {
        const onA = a.registry.get(hex(b.transport.publicKey))
        const onB = b.registry.get(hex(a.transport.publicKey))
        return (
          onA !== undefined &&
          onB !== undefined &&
          hex(onA.handshakeHash) === hex(onB.handshakeHash) &&
          openTo(a.transport, b.transport.publicKey).length === 1 &&
          openTo(b.transport, a.transport.publicKey).length === 1
        )
      })
      // The survivor is the one the lower key dialled.
      const survivor = lower.registry.get(hex((lower === a ? b : a).transport.publicKey))!
      expect(survivor.initiator).toBe(true)
      await survivor.close()
      await waitUntil(`round ${round}: closed on both sides`, () => {
        return (
          a.registry.get(hex(b.transport.publicKey)) === undefined &&
          b.registry.get(hex(a.transport.publicKey)) === undefined
        )
      })
    }
  }, 120_000)

  it('a newer connection dialled by the same side replaces the older one on the acceptor', async () => {
    const topic = await testTopic('replace')
    const a = await side(topic)
    const b = await side(topic)
    const address = { host: '127.0.0.1', port: b.transport.address().port }
    const first = await a.transport.dial(address, b.transport.publicKey, { topic })
    a.registry.add(first)
    await waitUntil(
      'b has the first',
      () => b.registry.get(hex(a.transport.publicKey)) !== undefined,
    )
    const onBFirst = b.registry.get(hex(a.transport.publicKey))!
    const replaced: boolean[] = []
    b.registry.addEventListener('live', ({ detail }) =>
      replaced.push(detail.replaced !== undefined),
    )
    // a lost the first without b noticing (no goodbye), then dialled again.
    first.destroy()
    const second = await a.transport.dial(address, b.transport.publicKey, { topic })
    a.registry.add(second)
    await waitUntil('b switched to the second', () => {
      const now = b.registry.get(hex(a.transport.publicKey))
      return now !== undefined && hex(now.handshakeHash) === hex(second.handshakeHash)
    })
    await waitUntil('the old one is closed', () => onBFirst.closeReason !== undefined)
    expect(openTo(b.transport, a.transport.publicKey)).toHaveLength(1)
  })

  it('a socket attached to a connection closes with it', async () => {
    const topic = await testTopic('sockets')
    const a = await side(topic)
    const b = await side(topic)
    const extra = await a.transport.createSocket({ host: '127.0.0.1' })
    const connection = await a.transport.dial(
      { host: '127.0.0.1', port: b.transport.address().port },
      b.transport.publicKey,
      { topic, socket: extra },
    )
    a.registry.add(connection)
    a.registry.attachSocket(connection, extra)
    expect(a.registry.attachedSockets).toBe(1)
    await connection.close()
    await waitUntil('socket released', () => a.registry.attachedSockets === 0)
    // The socket is closed: sending on it fails.
    await expect(extra.send(new Uint8Array(1), 9, '127.0.0.1')).rejects.toThrow()
  })
})

describe('a relayed connection is the last resort', () => {
  it('a direct connection replaces a relayed one on both sides, and a relayed one never replaces a direct one', async () => {
    const topic = await testTopic('relay-upgrade')
    const a = await side(topic)
    const b = await side(topic)
    const [lower, higher] =
      hex(a.transport.publicKey) < hex(b.transport.publicKey) ? [a, b] : [b, a]
    const relayed = async () => {
      const [x, y] = duplexPair()
      const [dialled, accepted] = await Promise.all([
        lower.transport.dialThrough(x, higher.transport.publicKey, { topic }),
        higher.transport.acceptThrough(y),
      ])
      return { dialled, accepted }
    }
    const first = await relayed()
    expect(lower.registry.add(first.dialled)).toBe(true)
    expect(higher.registry.add(first.accepted)).toBe(true)
    // The upgrade: the lower key dials directly; the direct connection wins on both sides.
    const direct = await lower.transport.dial(
      { host: '127.0.0.1', port: higher.transport.address().port },
      higher.transport.publicKey,
      { topic },
    )
    expect(lower.registry.add(direct)).toBe(true)
    await waitUntil('the direct connection is live on both sides, the relayed one closed', () => {
      const onLower = lower.registry.get(hex(higher.transport.publicKey))
      const onHigher = higher.registry.get(hex(lower.transport.publicKey))
      return (
        // Direct: the dial races UDX and TCP, and on loopback either may win.
        onLower !== undefined &&
        onLower.carrier !== 'relay' &&
        onHigher !== undefined &&
        onHigher.carrier !== 'relay' &&
        first.dialled.closeReason !== undefined &&
        first.accepted.closeReason !== undefined
      )
    })
    // A relayed connection arriving now (a late relay attempt) loses and is closed.
    const late = await relayed()
    expect(lower.registry.add(late.dialled)).toBe(false)
    expect(higher.registry.add(late.accepted)).toBe(false)
    expect(lower.registry.get(hex(higher.transport.publicKey))).toBe(direct)
    await waitUntil(
      'the late relayed connection is closed',
      () => late.dialled.closeReason !== undefined,
    )
  }, 30_000)
})

describe('upgrading a relayed connection', () => {
  /** Two sides joined through in-memory duplexes (carrier `relay`), registered on both. */
  async function relayedPair(topic: TopicKeys, drainMs?: number) {
    const a = await side(topic, drainMs, true)
    const b = await side(topic, drainMs, true)
    const [lower, higher] =
      hex(a.transport.publicKey) < hex(b.transport.publicKey) ? [a, b] : [b, a]
    const [x, y] = duplexPair()
    const [dialled, accepted] = await Promise.all([
      lower.transport.dialThrough(x, higher.transport.publicKey, { topic }),
      higher.transport.acceptThrough(y),
    ])
    expect(lower.registry.add(dialled)).toBe(true)
    expect(higher.registry.add(accepted)).toBe(true)
    const direct = async () => {
      const accepting = new Promise<Connection>((resolve) =>
        higher.transport.addEventListener('connection', ({ detail }) => resolve(detail), {
          once: true,
        }),
      )
      const out = await lower.transport.dial(
        { host: '127.0.0.1', port: higher.transport.address().port },
        higher.transport.publicKey,
        { topic, carriers: ['udx'] },
      )
      return { dialled: out, accepted: await accepting }
    }
    return { lower, higher, relayed: { dialled, accepted }, direct }
  }

  it('a stream open on the relayed connection finishes after a direct one replaced it; then the relayed one closes', async () => {
    const topic = await testTopic('relay-drain')
    const { lower, higher, relayed, direct } = await relayedPair(topic)
    // A transfer in flight on the relayed connection: the lower side asks, the higher answers.
    const incoming = relayed.accepted.incomingStreams()[Symbol.asyncIterator]()
    const asking = await relayed.dialled.openStream()
    await asking.write(new TextEncoder().encode('first half'))
    const answering = (await incoming.next()).value!
    const d = await direct()
    expect(lower.registry.add(d.dialled)).toBe(true)
    expect(higher.registry.add(d.accepted)).toBe(true)
    expect(lower.registry.get(hex(higher.transport.publicKey))).toBe(d.dialled)
    expect(higher.registry.get(hex(lower.transport.publicKey))).toBe(d.accepted)
    expect(lower.registry.pathOf(d.dialled)).toBe('direct')
    // A second later the relayed connection still carries the transfer.
    await new Promise((resolve) => setTimeout(resolve, 1000))
    expect(relayed.dialled.closeReason).toBeUndefined()
    expect(relayed.accepted.closeReason).toBeUndefined()
    expect(lower.registry.drainingCount).toBe(1)
    await asking.write(new TextEncoder().encode(' and the rest'))
    await asking.end()
    const got: Uint8Array[] = []
    for await (const chunk of answering) got.push(chunk)
    expect(Buffer.concat(got).toString()).toBe('first half and the rest')
    await answering.write(new TextEncoder().encode('thanks'))
    await answering.end()
    const reply: Uint8Array[] = []
    for await (const chunk of asking) reply.push(chunk)
    expect(Buffer.concat(reply).toString()).toBe('thanks')
    // With no stream left both ends close the relayed connection; the direct one stays.
    await waitUntil(
      'the relayed connection closed on both sides',
      () => relayed.dialled.closeReason !== undefined && relayed.accepted.closeReason !== undefined,
    )
    expect(lower.registry.drainingCount).toBe(0)
    expect(d.dialled.closeReason).toBeUndefined()
    expect(lower.registry.get(hex(higher.transport.publicKey))).toBe(d.dialled)
  }, 30_000)

  it('a stream that outlives the drain time is cut there (the downloads resume it on the new connection)', async () => {
    const topic = await testTopic('relay-drain-deadline')
    const { lower, higher, relayed, direct } = await relayedPair(topic, 1500)
    const incoming = relayed.accepted.incomingStreams()[Symbol.asyncIterator]()
    const asking = await relayed.dialled.openStream()
    await asking.write(new Uint8Array(1))
    await incoming.next()
    const d = await direct()
    lower.registry.add(d.dialled)
    higher.registry.add(d.accepted)
    const replacedAt = Date.now()
    await waitUntil(
      'the relayed connection closed',
      () => relayed.dialled.closeReason !== undefined,
    )
    expect(Date.now() - replacedAt).toBeGreaterThanOrEqual(1400)
    expect(Date.now() - replacedAt).toBeLessThan(10_000) // cut at the drain limit, not by an idle timeout
    expect(d.dialled.closeReason).toBeUndefined()
  }, 30_000)

  it('a TURN connection ranks between a member-relayed one and a direct one, on both sides', async () => {
    const topic = await testTopic('turn-rank')
    const { lower, higher, relayed, direct } = await relayedPair(topic)
    // A "TURN" connection: marked by both sides as the dialer and acceptor of a relayed address do.
    const turn = await direct()
    lower.registry.markTurn(turn.dialled)
    higher.registry.markTurn(turn.accepted)
    expect(lower.registry.pathOf(turn.dialled)).toBe('turn')
    expect(lower.registry.add(turn.dialled)).toBe(true) // TURN replaces the member relay
    expect(higher.registry.add(turn.accepted)).toBe(true)
    expect(lower.registry.isRelayed(turn.dialled)).toBe(true)
    // A member-relayed connection arriving now loses to TURN.
    const [x, y] = duplexPair()
    const [late, lateAccepted] = await Promise.all([
      lower.transport.dialThrough(x, higher.transport.publicKey, { topic }),
      higher.transport.acceptThrough(y),
    ])
    expect(lower.registry.add(late)).toBe(false)
    expect(higher.registry.add(lateAccepted)).toBe(false)
    // A direct connection replaces TURN on both sides; the TURN one (no streams) closes.
    const d = await direct()
    expect(lower.registry.add(d.dialled)).toBe(true)
    expect(higher.registry.add(d.accepted)).toBe(true)
    await waitUntil(
      'the TURN and relayed connections closed',
      () =>
        turn.dialled.closeReason !== undefined &&
        turn.accepted.closeReason !== undefined &&
        relayed.dialled.closeReason !== undefined,
    )
    expect(higher.registry.get(hex(lower.transport.publicKey))).toBe(d.accepted)
    expect(higher.registry.pathOf(d.accepted)).toBe('direct')
  }, 30_000)
})
