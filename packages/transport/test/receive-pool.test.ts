import { createHash, randomBytes } from 'node:crypto'
import { setTimeout as sleep } from 'node:timers/promises'
import { describe, expect, it } from 'vitest'
import { receivePoolCounts, releaseChunk } from '../src/message-pool'
import type { TransportStream } from '../src/types'
import { loopback, sha256, startTransport, topic } from './helpers'

/** A TCP connection; `accepted` yields the acceptor's streams in the order they open. */
async function tcpConnection() {
  const a = await startTransport()
  const b = await startTransport()
  const accepted: Promise<TransportStream>[] = []
  const resolvers: ((s: TransportStream) => void)[] = []
  for (let i = 0; i < 2; i++) accepted.push(new Promise((r) => resolvers.push(r)))
  b.addEventListener('connection', (event) => {
    void (async () => {
      let i = 0
      for await (const stream of event.detail.incomingStreams()) resolvers[i++]?.(stream)
    })()
  })
  const connection = await a.dial(loopback(b), b.publicKey, {
    topic: await topic(),
    carriers: ['tcp'],
  })
  expect(connection.carrier).toBe('tcp')
  return { connection, accepted }
}

/** Writes `data` in chunks of random sizes (1 byte to 300 KiB), so messages vary in length. */
async function writeRandomly(stream: TransportStream, data: Uint8Array): Promise<void> {
  for (let at = 0; at < data.length; ) {
    const n = 1 + Math.floor(Math.random() * 300 * 1024)
    await stream.write(data.subarray(at, at + n))
    at += n
  }
  await stream.end()
}

/** Hashes a stream, giving chunks back only after holding up to 8 (as a batched disk write does). */
async function hashReleasing(stream: TransportStream) {
  const hash = createHash('sha256')
  let bytes = 0
  let held: Uint8Array[] = []
  const flush = () => {
    for (const c of held) {
      hash.update(c)
      bytes += c.length
      releaseChunk(c)
      releaseChunk(c) // twice: ignored
    }
    held = []
  }
  for await (const chunk of stream) {
    held.push(chunk)
    if (held.length < 8) continue
    if (Math.random() < 0.2) await sleep(1)
    flush()
  }
  flush()
  return { hash: hash.digest('hex'), bytes }
}

/** Keeps every chunk and hashes them at the end: chunks never given back stay intact. */
async function hashKeeping(stream: TransportStream) {
  const chunks: Uint8Array[] = []
  for await (const chunk of stream) chunks.push(chunk)
  return { hash: sha256(Buffer.concat(chunks)), bytes: chunks.reduce((n, c) => n + c.length, 0) }
}

describe('received messages in reused buffers (TCP carrier)', () => {
  it('keeps every byte intact: one reader gives chunks back late, another keeps them all', async () => {
    const { connection, accepted } = await tcpConnection()
    const first = await connection.openStream()
    const second = await connection.openStream()
    const data = randomBytes(24 * 1024 * 1024)
    const otherData = randomBytes(8 * 1024 * 1024)
    const before = { ...receivePoolCounts }
    const results = Promise.all([accepted[0]!.then(hashReleasing), accepted[1]!.then(hashKeeping)])
    await writeRandomly(first, data) // alone first: whole 256 KiB messages
    await writeRandomly(second, otherData)
    const [released, kept] = await results
    expect(released).toEqual({ hash: sha256(data), bytes: data.length })
    expect(kept).toEqual({ hash: sha256(otherData), bytes: otherData.length })
    // Large messages spanning socket reads were assembled in pooled buffers and came back.
    expect(receivePoolCounts.assembled - before.assembled).toBeGreaterThan(10)
    expect(receivePoolCounts.returned - before.returned).toBeGreaterThan(0)
  })
})
