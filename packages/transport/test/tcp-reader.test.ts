import { randomBytes } from 'node:crypto'
import { once } from 'node:events'
import { connect, createServer, type Server, type Socket } from 'node:net'
import { setImmediate as turn } from 'node:timers/promises'
import { afterEach, describe, expect, it } from 'vitest'
import { TcpMessageReader } from '../src/tcp-reader'

const caps = { handshakeMessages: 1, handshakeBytes: 4096, carrierBytes: 320 * 1024 }

/** secret-stream's framing: a 3-byte little-endian length, then the body. */
function frame(body: Uint8Array): Uint8Array {
  const out = new Uint8Array(3 + body.length)
  out[0] = body.length & 0xff
  out[1] = (body.length >>> 8) & 0xff
  out[2] = (body.length >>> 16) & 0xff
  out.set(body, 3)
  return out
}

/** Splits what the reader emitted back into bodies, checking that each chunk holds whole messages. */
function bodies(chunks: Uint8Array[]): Buffer[] {
  const out: Buffer[] = []
  for (const chunk of chunks) {
    let at = 0
    while (at < chunk.length) {
      const length = chunk[at]! + (chunk[at + 1]! << 8) + (chunk[at + 2]! << 16)
      expect(at + 3 + length).toBeLessThanOrEqual(chunk.length)
      out.push(Buffer.from(chunk.subarray(at + 3, at + 3 + length)))
      at += 3 + length
    }
  }
  return out
}

let server: Server | undefined
afterEach(() => server?.close())

/** A TCP server whose connections get `send`, and a client socket read by a message reader. */
async function pair(send: (socket: Socket) => Promise<void> | void) {
  server = createServer((socket) => void send(socket))
  server.listen(0, '127.0.0.1')
  await once(server, 'listening')
  const port = (server.address() as { port: number }).port
  const reader = new TcpMessageReader(caps)
  const client = connect({ port, host: '127.0.0.1', onread: reader.onread })
  reader.attach(client)
  return client
}

describe('TcpMessageReader', () => {
  it('hands on every message whole, small and large, however the bytes are split', async () => {
    const sent = [
      randomBytes(100),
      ...Array.from({ length: 20 }, (_, i) => randomBytes(i % 3 === 0 ? 256 * 1024 + i : 500 + i)),
      randomBytes(16 * 1024),
      randomBytes(300 * 1024),
      randomBytes(1),
    ]
    const wire = Buffer.concat(sent.map(frame))
    const client = await pair(async (socket) => {
      // Odd-sized pieces with pauses: headers and bodies split across reads.
      for (let at = 0; at < wire.length; at += 7919) {
        socket.write(wire.subarray(at, at + 7919))
        if (at % 5 === 0) await turn()
      }
      socket.end()
    })
    const chunks: Uint8Array[] = []
    client.on('data', (chunk: Uint8Array) => chunks.push(new Uint8Array(chunk)))
    await once(client, 'end')
    const got = bodies(chunks)
    expect(got.length).toBe(sent.length)
    for (let i = 0; i < sent.length; i++) expect(got[i]!.equals(sent[i]!)).toBe(true)
    client.destroy()
  })

  it('keeps messages that arrive before anyone listens, and hands them on in order', async () => {
    const sent = [randomBytes(200), randomBytes(300)]
    const client = await pair((socket) => {
      socket.write(Buffer.concat(sent.map(frame)))
    })
    await once(client, 'connect')
    await new Promise((resolve) => setTimeout(resolve, 50))
    const chunks: Uint8Array[] = []
    await new Promise<void>((resolve) =>
      client.on('data', (chunk: Uint8Array) => {
        chunks.push(chunk)
        if (bodies(chunks).length === sent.length) resolve()
      }),
    )
    expect(bodies(chunks).map((b) => b.toString('hex'))).toEqual(sent.map((b) => b.toString('hex')))
    client.destroy()
  })

  it('refuses a message longer than its cap before allocating it (typed error)', async () => {
    const client = await pair((socket) => {
      socket.write(frame(new Uint8Array(10))) // the handshake message
      socket.write(Uint8Array.of(0xff, 0xff, 0xff, 1)) // declares 16 MiB
    })
    const [err] = (await once(client, 'error')) as [Error & { code?: string }]
    expect(err.code).toBe('PROTOCOL_ERROR')
    expect(err.message).toMatch(/16777215 bytes/)
  })

  it('caps the handshake messages lower than later ones', async () => {
    const client = await pair((socket) => {
      socket.write(frame(new Uint8Array(8 * 1024)))
    })
    client.on('data', () => {})
    const [err] = (await once(client, 'error')) as [Error & { code?: string }]
    expect(err.code).toBe('PROTOCOL_ERROR')
    expect(err.message).toMatch(/cap 4096/)
  })
})
