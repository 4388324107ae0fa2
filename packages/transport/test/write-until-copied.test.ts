import { createHash, randomBytes } from 'node:crypto'
import { setTimeout as sleep } from 'node:timers/promises'
import { describe, expect, it } from 'vitest'
import type { Carrier, TransportStream } from '../src/types'
import { loopback, startTransport, topic } from './helpers'

/** Hashes what arrives, pausing now and then so the writer's queue backs up. */
async function slowHashOf(stream: AsyncIterable<Uint8Array>) {
  const hash = createHash('sha256')
  let bytes = 0
  let sincePause = 0
  for await (const chunk of stream) {
    hash.update(chunk)
    bytes += chunk.length
    sincePause += chunk.length
    if (sincePause >= 1024 * 1024) {
      sincePause = 0
      await sleep(5)
    }
  }
  return { hash: hash.digest('hex'), bytes }
}

async function streamPair(carrier: Carrier) {
  const a = await startTransport()
  const b = await startTransport()
  const accepted = new Promise<TransportStream>((resolve) => {
    b.addEventListener('connection', (event) => {
      void (async () => {
        for await (const stream of event.detail.incomingStreams()) resolve(stream)
      })()
    })
  })
  const connection = await a.dial(loopback(b), b.publicKey, {
    topic: await topic(),
    carriers: [carrier],
  })
  expect(connection.carrier).toBe(carrier)
  const stream = await connection.openStream()
  return { stream, accepted }
}

describe('write(chunk, { untilCopied: true })', () => {
  for (const carrier of ['tcp', 'udx'] as const) {
    it(`lets one buffer be refilled after every write, bytes intact (${carrier})`, async () => {
      const { stream, accepted } = await streamPair(carrier)
      const data = randomBytes(8 * 1024 * 1024)
      const expected = createHash('sha256').update(data).digest('hex')
      const received = accepted.then(slowHashOf)
      // One buffer for every chunk: a chunk the transport still held would be overwritten by
      // the next one, and the hash would differ.
      const buffer = Buffer.alloc(192 * 1024)
      for (let at = 0; at < data.length; at += buffer.length) {
        const n = data.copy(buffer, 0, at, at + buffer.length)
        await stream.write(buffer.subarray(0, n), { untilCopied: true })
        buffer.fill(0xee)
      }
      await stream.end()
      expect(await received).toEqual({ hash: expected, bytes: data.length })
    })
  }

  it('rejects a waiting write when the stream is aborted', async () => {
    const { stream, accepted } = await streamPair('tcp')
    await accepted // nobody reads it: the window fills and later chunks stay queued
    const chunk = Buffer.alloc(256 * 1024)
    let waiting: Promise<void> | undefined
    for (let i = 0; i < 64 && waiting === undefined; i++) {
      const write = stream.write(chunk, { untilCopied: true })
      const settled = await Promise.race([write.then(() => true), sleep(50).then(() => false)])
      if (!settled) waiting = write
    }
    expect(waiting).toBeDefined()
    stream.abort()
    await expect(waiting).rejects.toMatchObject({ code: 'RESET' })
  })
})
