import { randomBytes } from 'node:crypto'
import { PROTOCOL_VERSION } from '@harddrive-party/wire-protocol'
import { describe, expect, it } from 'vitest'
import {
  type Connection,
  createIdentity,
  duplexFromStream,
  hasTransportCode,
  type TransportStream,
} from '../src/index'
import { duplexPair } from '../src/testing-helpers'
import {
  loopback,
  nextConnection,
  readAll,
  serveEcho,
  sha256,
  startTransport,
  testTopic,
  topic,
  within,
  writeAll,
} from './helpers'

/** A payload with a 64-byte marker every 64 KiB, to look for in what the carrier saw. */
function markedPayload(bytes: number) {
  const marker = Buffer.from('relay-marker:'.padEnd(64, 'x'))
  const data = randomBytes(bytes)
  for (let at = 0; at + 64 <= bytes; at += 65536) marker.copy(data, at)
  return { data, marker }
}

async function echoThrough(connection: Connection, data: Uint8Array) {
  const stream = await connection.openStream()
  const [, back] = await Promise.all([writeAll(stream, data), readAll(stream)])
  return back
}

describe('connections through a given byte stream (carrier relay)', () => {
  it('runs Noise, hellos and streams over an in-memory duplex pair, ciphertext only', async () => {
    const alice = await startTransport()
    const bob = await startTransport()
    serveEcho(bob)
    let seen = Buffer.alloc(0)
    const [a, b] = duplexPair((chunk) => {
      seen = Buffer.concat([seen, chunk])
    })
    const t = await topic()
    const [dialled, accepted] = await within(
      Promise.all([alice.dialThrough(a, bob.publicKey, { topic: t }), bob.acceptThrough(b)]),
      10_000,
      'handshake through the pair',
    )
    expect(dialled.carrier).toBe('relay')
    expect(accepted.carrier).toBe('relay')
    expect(Buffer.from(accepted.remotePublicKey)).toEqual(Buffer.from(alice.publicKey))
    expect(accepted.initiator).toBe(false)
    // Each side knows which request kinds the other's protocol version has.
    expect(accepted.remoteVersion).toEqual(PROTOCOL_VERSION)
    expect(dialled.remoteVersion).toEqual(PROTOCOL_VERSION)
    expect(alice.connections()).toContain(dialled)
    // acceptThrough hands the connection to its caller; serve it like an announced one.
    void (async () => {
      for await (const stream of accepted.incomingStreams()) {
        void (async () => {
          for await (const chunk of stream) await stream.write(chunk)
          await stream.end()
        })()
      }
    })()
    const { data, marker } = markedPayload(1024 * 1024)
    const back = await within(echoThrough(dialled, data), 15_000, 'echo 1 MiB')
    expect(sha256(back)).toBe(sha256(data))
    expect(seen.length).toBeGreaterThan(2 * data.length)
    expect(seen.includes(marker)).toBe(false)
  })

  it('refuses a wrong key (PEER_KEY_MISMATCH) and a stranger to the topic (NOT_TOPIC_MEMBER)', async () => {
    const alice = await startTransport()
    const bob = await startTransport()
    const [a, b] = duplexPair(() => {})
    const t = await topic()
    const wrong = alice.dialThrough(a, createIdentity().publicKey, { topic: t })
    void bob.acceptThrough(b).catch(() => {})
    const err = await wrong.catch((e: unknown) => e)
    expect(hasTransportCode(err, 'PEER_KEY_MISMATCH')).toBe(true)

    const other = await testTopic('another-topic')
    const stranger = await startTransport({ topics: () => [other] })
    const [c, d] = duplexPair(() => {})
    const dial = alice.dialThrough(c, stranger.publicKey, { topic: t })
    const accept = stranger.acceptThrough(d)
    const [dialErr, acceptErr] = await Promise.all([
      dial.catch((e: unknown) => e),
      accept.catch((e: unknown) => e),
    ])
    expect(hasTransportCode(dialErr, 'NOT_TOPIC_MEMBER')).toBe(true)
    expect(hasTransportCode(acceptErr, 'NOT_TOPIC_MEMBER')).toBe(true)
  })

  it('runs a connection inside two mux streams piped by a third transport, which sees ciphertext', async () => {
    const t = await topic()
    const alice = await startTransport()
    const relay = await startTransport()
    const bob = await startTransport()
    const relayFromAlicePromise = nextConnection(relay)
    const aliceToRelay = await alice.dial(loopback(relay), relay.publicKey, { topic: t })
    const relayFromAlice = await relayFromAlicePromise
    const relayFromBob = nextConnection(relay)
    const bobToRelay = await bob.dial(loopback(relay), relay.publicKey, { topic: t })
    const relayToBob = await relayFromBob

    // The relay's blind pipe: bytes from one stream to the other, counted and tapped.
    const counted = { toBob: 0, toAlice: 0 }
    let tapped = Buffer.alloc(0)
    let sawPlaintext = false
    // A relayed connection's end resets the hop streams (secret-stream destroys its carrier).
    const pipe = async (from: TransportStream, to: TransportStream, key: keyof typeof counted) => {
      try {
        for await (const chunk of from) {
          counted[key] += chunk.length
          tapped = Buffer.concat([tapped.subarray(-128), Buffer.from(chunk)])
          if (tapped.includes(marker)) sawPlaintext = true
          await to.write(chunk)
        }
        await to.end()
      } catch (err) {
        to.abort(err)
      }
    }
    const { data, marker } = markedPayload(4 * 1024 * 1024)
    const aliceHop = await aliceToRelay.openStream()
    const incoming = relayFromAlice.incomingStreams()[Symbol.asyncIterator]()
    const bobHopIncoming = bobToRelay.incomingStreams()[Symbol.asyncIterator]()
    const dialled = alice.dialThrough(duplexFromStream(aliceHop), bob.publicKey, { topic: t })
    const relayA = (await incoming.next()).value as TransportStream
    const relayB = await relayToBob.openStream()
    const pipes = Promise.all([pipe(relayA, relayB, 'toBob'), pipe(relayB, relayA, 'toAlice')])
    const bobHop = (await bobHopIncoming.next()).value as TransportStream
    const [viaRelay, accepted] = await within(
      Promise.all([dialled, bob.acceptThrough(duplexFromStream(bobHop))]),
      10_000,
      'handshake through the relay',
    )
    expect(viaRelay.carrier).toBe('relay')
    void (async () => {
      for await (const stream of accepted.incomingStreams()) {
        void (async () => {
          for await (const chunk of stream) await stream.write(chunk)
          await stream.end()
        })()
      }
    })()
    const back = await within(echoThrough(viaRelay, data), 30_000, 'echo 4 MiB through the relay')
    expect(sha256(back)).toBe(sha256(data))
    expect(sawPlaintext).toBe(false)
    // Every payload byte crossed the relay once each way, plus Noise and mux framing.
    expect(counted.toBob).toBeGreaterThanOrEqual(data.length)
    expect(counted.toAlice).toBeGreaterThanOrEqual(data.length)
    expect(counted.toBob).toBeLessThan(data.length * 1.05 + 64 * 1024)
    expect(counted.toAlice).toBeLessThan(data.length * 1.05 + 64 * 1024)
    await viaRelay.close()
    await within(pipes, 10_000, 'the relay pipes end with the relayed connection')
  })
})
