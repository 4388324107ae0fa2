import {
  type Connection,
  createIdentity,
  createTransport,
  type Transport,
  type TransportStream,
} from '@harddrive-party/transport'
import { nextConnection, testTopic, within } from '@harddrive-party/transport/testing'
import { decodeIncomingRequest, FrameDecoder, type TopicKeys } from '@harddrive-party/wire-protocol'
import { afterEach, describe, expect, it } from 'vitest'
import { defaultLogger } from '../src/logger'
import { dialThroughRelay } from '../src/relay/relay-client'
import { type RelayOptions, RelayService } from '../src/relay/relay-service'

// The relay's refusals and bounds with real transports on loopback: an asker, a relay and a
// target, the relay answering `relay` requests with RelayService as peer-node does.

const hex = (k: Uint8Array) => Buffer.from(k).toString('hex')
const started: Transport[] = []
afterEach(async () => {
  await Promise.allSettled(started.splice(0).map((t) => t.stop()))
})

async function transport(topic: TopicKeys): Promise<Transport> {
  const t = createTransport({
    identity: createIdentity(),
    topics: () => [topic],
    host: '127.0.0.1',
  })
  await t.start()
  started.push(t)
  return t
}

/** asker -> relay <- target, the relay serving `relay` requests with a RelayService. */
async function trio(options: RelayOptions) {
  const topic = await testTopic('relay-service')
  const [asker, relay, target] = [
    await transport(topic),
    await transport(topic),
    await transport(topic),
  ]
  const live = new Map<string, Connection>()
  const service = new RelayService(options, (k) => live.get(k), defaultLogger('relay-test'))
  const serve = (connection: Connection) => {
    live.set(hex(connection.remotePublicKey), connection)
    void (async () => {
      for await (const stream of connection.incomingStreams()) void answer(connection, stream)
    })().catch(() => {})
  }
  const answer = async (connection: Connection, stream: TransportStream) => {
    const decoder = new FrameDecoder()
    const reader = stream[Symbol.asyncIterator]()
    let frame = decoder.nextFrame()
    while (frame === undefined) {
      const next = await reader.next()
      if (next.done) return
      decoder.push(next.value)
      frame = decoder.nextFrame()
    }
    const request = decodeIncomingRequest(frame)
    if (request.type !== 'relay') return stream.abort()
    const head: Uint8Array[] = []
    for (let raw = decoder.takeRaw(Infinity); raw; raw = decoder.takeRaw(Infinity)) head.push(raw)
    await service.relay(hex(connection.remotePublicKey), request, stream, head)
  }
  const address = { host: '127.0.0.1', port: relay.address().port }
  const toRelay = async (from: Transport) => {
    const incoming = nextConnection(relay)
    const connection = await from.dial(address, relay.publicKey, { topic })
    serve(await incoming)
    return connection
  }
  const askerToRelay = await toRelay(asker)
  const targetToRelay = await toRelay(target)
  return { topic, asker, relay, target, service, askerToRelay, targetToRelay }
}

const failureOf = (p: Promise<unknown>) =>
  p.then(
    () => 'connected',
    (err: Error) => err.message,
  )

describe('relay service', () => {
  it('refuses when relaying is off (FORBIDDEN) and for a member it is not connected to (NOT_FOUND)', async () => {
    const off = await trio({ enabled: false })
    const signal = AbortSignal.timeout(10_000)
    expect(
      await failureOf(
        dialThroughRelay(off.asker, [off.askerToRelay], off.target.publicKey, off.topic, signal),
      ),
    ).toContain('FORBIDDEN')
    const on = await trio({ enabled: true })
    const stranger = createIdentity().publicKey
    expect(
      await failureOf(dialThroughRelay(on.asker, [on.askerToRelay], stranger, on.topic, signal)),
    ).toContain('NOT_FOUND')
    expect(on.service.info.refused).toBe(1)
    expect(on.service.info.pairs).toHaveLength(0)
  })

  it('answers a flood of requests with BUSY after a small burst', async () => {
    const { asker, askerToRelay, service, topic, target } = await trio({
      enabled: true,
      maxPairs: 1,
    })
    const stranger = createIdentity().publicKey
    const signal = AbortSignal.timeout(20_000)
    const answers = await Promise.all(
      Array.from({ length: 20 }, () =>
        failureOf(dialThroughRelay(asker, [askerToRelay], stranger, topic, signal)),
      ),
    )
    const busy = answers.filter((a) => a.includes('BUSY')).length
    expect(answers.filter((a) => a.includes('NOT_FOUND')).length).toBeLessThanOrEqual(8)
    expect(busy).toBeGreaterThanOrEqual(12)
    expect(service.info.refused).toBe(20)
    void target
  })

  it('ends a pair whose target never reads after the stall timeout; memory stays within the windows', async () => {
    const { asker, askerToRelay, targetToRelay, service, topic, target } = await trio({
      enabled: true,
      stallTimeoutMs: 1500,
    })
    // The target takes the relayed stream and never reads it: no handshake answer either, so
    // the asker's dial hangs until the relay gives up on the pair.
    const held: TransportStream[] = []
    void (async () => {
      for await (const stream of targetToRelay.incomingStreams()) held.push(stream)
    })().catch(() => {})
    const stream = await askerToRelay.openStream()
    const { encodeFrame, encodeRelayMessage } = await import('@harddrive-party/wire-protocol')
    await stream.write(encodeFrame(encodeRelayMessage({ type: 'relay', to: target.publicKey })))
    await within(
      (async () => {
        while (service.info.pairs.length === 0) await new Promise((r) => setTimeout(r, 20))
      })(),
      5000,
      'the pair starts',
    )
    // Write until the relay stops taking bytes (windows full), without waiting on each write.
    const chunk = new Uint8Array(64 * 1024)
    let written = 0
    const writing = (async () => {
      for (let i = 0; i < 4096; i++) {
        await stream.write(chunk)
        written += chunk.length
      }
    })().catch(() => {})
    const startedAt = Date.now()
    await within(
      (async () => {
        while (service.info.pairs.length > 0) await new Promise((r) => setTimeout(r, 50))
      })(),
      15_000,
      'the stalled pair ends',
    )
    const endedMs = Date.now() - startedAt
    await writing
    const forwarded = service.info.bytesForwarded
    console.log(
      `stalled target: pair ended after ${endedMs} ms; asker wrote ${written} bytes, relay forwarded ${forwarded}`,
    )
    expect(held.length).toBe(1)
    // Bounded by the streams' flow-control windows, not by what the asker wanted to send.
    expect(written).toBeLessThan(64 * 1024 * 1024)
    expect(forwarded).toBeLessThan(32 * 1024 * 1024)
    void asker
    void topic
  }, 30_000)
})
