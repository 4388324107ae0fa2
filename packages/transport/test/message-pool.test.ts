import { randomBytes } from 'node:crypto'
import { once } from 'node:events'
import { connect, createServer, type Socket } from 'node:net'
import { setTimeout as sleep, setImmediate as turn } from 'node:timers/promises'
import { describe, expect, it } from 'vitest'
import { messagePoolCounts, PooledSecretStream } from '../src/message-pool'
import { loopback, serveEcho, sha256, sha256Of, startTransport, topic, writeAll } from './helpers'

/** Reads like sha256Of, but pauses now and then, so the sender's socket backs up. */
async function slowSha256Of(stream: AsyncIterable<Uint8Array>) {
  let bytes = 0
  let sincePause = 0
  const parts: Uint8Array[] = []
  for await (const chunk of stream) {
    parts.push(chunk)
    bytes += chunk.length
    sincePause += chunk.length
    if (sincePause >= 1024 * 1024) {
      sincePause = 0
      await sleep(5)
    }
  }
  return { hash: sha256(Buffer.concat(parts)), bytes }
}

describe('reused message buffers (TCP carrier)', () => {
  it('never hands out a buffer the socket still holds (a receiver that stops reading)', async () => {
    const server = createServer()
    server.listen(0, '127.0.0.1')
    await once(server, 'listening')
    const { port } = server.address() as { port: number }
    const dialed = connect(port, '127.0.0.1')
    const [[accepted]] = (await Promise.all([
      once(server, 'connection'),
      once(dialed, 'connect'),
    ])) as [[Socket], unknown]
    const sender = new PooledSecretStream(true, dialed)
    const receiver = new PooledSecretStream(false, accepted)
    try {
      await Promise.all([sender.opened, receiver.opened])
      // Nobody reads `receiver` yet: it stops reading its socket, the kernel's buffers fill,
      // and the sender's later writes stay queued in its socket.
      const count = 64
      const before = { ...messagePoolCounts }
      let heldAtSomePoint = false
      for (let i = 0; i < count; i++) {
        const message = sender.alloc(200 * 1024)
        message.fill(i)
        sender.write(message)
        await turn() // secret-stream encrypts it and hands it to the socket
        if (dialed.writableLength > 0) heldAtSomePoint = true
      }
      expect(heldAtSomePoint).toBe(true)
      // Buffers held by the socket were not handed out again: more were made.
      expect(messagePoolCounts.made - before.made).toBeGreaterThan(1)
      expect(messagePoolCounts.reused - before.reused).toBeGreaterThan(0)
      const received: Uint8Array[] = []
      let failure: unknown
      receiver.on('error', (err: unknown) => {
        failure = err // a reused buffer overwritten in the socket fails decryption here
      })
      receiver.on('data', (m: Uint8Array) => received.push(m))
      while (received.length < count && failure === undefined) await sleep(10)
      expect(failure).toBeUndefined()
      received.forEach((m, i) => {
        expect(m.length).toBe(200 * 1024)
        expect(m.every((b) => b === i)).toBe(true)
      })
    } finally {
      sender.destroy()
      receiver.destroy()
      server.close()
    }
  })

  it('reuses buffers and keeps every byte intact: 4 streams echoed at once, slow and fast readers', async () => {
    const a = await startTransport()
    const b = await startTransport()
    serveEcho(b)
    const connection = await a.dial(loopback(b), b.publicKey, {
      topic: await topic(),
      carriers: ['tcp'],
    })
    expect(connection.carrier).toBe('tcp')
    const before = { ...messagePoolCounts }
    const runs = Array.from({ length: 4 }, async (_, i) => {
      const data = randomBytes(6 * 1024 * 1024)
      const stream = await connection.openStream()
      const read = i % 2 === 0 ? slowSha256Of(stream) : sha256Of(stream)
      const [echoed] = await Promise.all([read, writeAll(stream, data)])
      expect(echoed).toEqual({ hash: sha256(data), bytes: data.length })
    })
    await Promise.all(runs)
    // 48 MiB went out in messages of up to 256 KiB: most must have taken a reused buffer.
    const made = messagePoolCounts.made - before.made
    const reused = messagePoolCounts.reused - before.reused
    expect(reused).toBeGreaterThan(made)
  })

  it('does not pool on UDX (libudx keeps a buffer until it is acknowledged), bytes intact', async () => {
    const a = await startTransport()
    const b = await startTransport()
    serveEcho(b)
    const connection = await a.dial(loopback(b), b.publicKey, {
      topic: await topic(),
      carriers: ['udx'],
    })
    const before = { ...messagePoolCounts }
    const data = randomBytes(4 * 1024 * 1024)
    const stream = await connection.openStream()
    const [echoed] = await Promise.all([slowSha256Of(stream), writeAll(stream, data)])
    expect(echoed).toEqual({ hash: sha256(data), bytes: data.length })
    expect(messagePoolCounts.made + messagePoolCounts.reused).toBe(before.made + before.reused)
  })
})
