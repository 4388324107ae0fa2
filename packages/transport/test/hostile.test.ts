import { randomBytes } from 'node:crypto'
import { createSocket as createDgramSocket, type Socket as DgramSocket } from 'node:dgram'
import { connect, type Socket } from 'node:net'
import { createHelloProof } from '@harddrive-party/wire-protocol/internal'
import NoiseSecretStream from '@hyperswarm/secret-stream'
import { describe, expect, it } from 'vitest'
import { decodeControlDatagram, encodeControlDatagram, newNonce } from '../src/control-datagram'
import { encodeHelloPayload } from '../src/hello'
import { createIdentity, type Transport } from '../src/index'
import { CloseCode, decodeCodeAndReason, encodeFrame, FrameType, readU32 } from '../src/mux-frame'
import {
  loopback,
  nextConnection,
  serveEcho,
  sha256,
  sha256Of,
  startTransport,
  topic,
  within,
  writeAll,
} from './helpers'

async function bindUdp(host: string): Promise<DgramSocket> {
  const socket = createDgramSocket('udp4')
  await new Promise<void>((resolve) => socket.bind(0, host, resolve))
  return socket
}

/** Bytes sent on `b`'s transfer echo, checked by hash, while `during` runs. */
async function echoTransfer(a: Transport, b: Transport, size: number) {
  const connection = await a.dial(loopback(b), b.publicKey, {
    topic: await topic(),
    carriers: ['udx'],
  })
  const data = randomBytes(size)
  const stream = await connection.openStream()
  const [echoed] = await Promise.all([sha256Of(stream), writeAll(stream, data)])
  return { echoed, expected: { hash: sha256(data), bytes: size } }
}

describe('hostile datagrams', () => {
  it('finishes a transfer intact while 10,000 random datagrams hit the port', async () => {
    const a = await startTransport()
    const b = await startTransport()
    serveEcho(b)
    let delivered = 0
    b.socket.onMessage(() => delivered++)
    const attacker = await bindUdp('127.0.0.2')
    const flood = (async () => {
      for (let i = 0; i < 10_000; i++) {
        // Random lengths, some posing as UDX (0xff) or as our control datagrams.
        const datagram = randomBytes(8 + (i % 1400))
        if (i % 10 === 0) datagram[0] = 0xff
        if (i % 10 === 1) datagram.set([0x48, 0x44, 0x50, 0x54, 1, 1 + (i % 5)])
        attacker.send(datagram, b.socket.port, '127.0.0.1')
        if (i % 200 === 0) await new Promise((r) => setImmediate(r))
      }
    })()
    const transfer = echoTransfer(a, b, 64 * 1024 * 1024)
    void transfer.catch(() => {}) // awaited below; keep a failed flood from leaving it unhandled
    await flood
    const { echoed, expected } = await within(transfer, 60_000, 'transfer under flood')
    attacker.close()
    expect(echoed).toEqual(expected)
    expect(delivered).toBeGreaterThan(0) // foreign datagrams reached the listener, not the streams
  })

  it('keeps serving honest peers through thousands of half-open handshakes', async () => {
    const b = await startTransport()
    serveEcho(b)
    const attackers = await Promise.all(
      Array.from({ length: 200 }, (_, i) => bindUdp(`127.0.0.${i + 2}`)),
    )
    const answers = { accept: 0, retry: 0, reject: 0 }
    for (const socket of attackers) {
      socket.on('message', (data) => {
        const message = decodeControlDatagram(data)
        if (message?.type === 'accept' || message?.type === 'retry' || message?.type === 'reject') {
          answers[message.type]++
        }
      })
    }
    // 4,000 connects that never go on to a Noise handshake: each accepted one leaves a
    // half-open UDX stream on b until it times out or is evicted.
    for (let round = 0; round < 20; round++) {
      for (const socket of attackers) {
        const connect = {
          type: 'connect' as const,
          streamId: randomBytes(4).readUInt32BE(),
          nonce: newNonce(),
          cookie: undefined,
        }
        socket.send(encodeControlDatagram(connect), b.socket.port, '127.0.0.1')
      }
      await new Promise((r) => setImmediate(r))
    }
    await new Promise((r) => setTimeout(r, 300))
    // Under that load b asks for cookies, which these flooders never echo.
    expect(answers.retry).toBeGreaterThan(0)
    expect(answers.accept).toBeGreaterThan(0)

    const a = await startTransport()
    const { echoed, expected } = await within(
      echoTransfer(a, b, 1024 * 1024),
      20_000,
      'honest peer',
    )
    expect(echoed).toEqual(expected)
    for (const socket of attackers) socket.close()
  })

  it('keeps serving honest peers through hundreds of idle TCP connections', async () => {
    const b = await startTransport()
    serveEcho(b)
    const idle: Socket[] = []
    for (let i = 0; i < 300; i++) {
      const socket = connect({
        host: '127.0.0.1',
        port: b.address().port,
        localAddress: `127.0.0.${2 + (i % 30)}`,
      })
      socket.on('error', () => {})
      idle.push(socket)
    }
    await new Promise((r) => setTimeout(r, 300))
    const a = await startTransport()
    const connection = await within(
      a.dial(loopback(b), b.publicKey, { topic: await topic(), carriers: ['tcp'] }),
      20_000,
      'honest tcp dial',
    )
    expect(connection.carrier).toBe('tcp')
    for (const socket of idle) socket.destroy()
  })

  it('survives garbage in place of a Noise handshake on TCP', async () => {
    const b = await startTransport({ handshakeTimeoutMs: 1000 })
    serveEcho(b)
    for (let i = 0; i < 20; i++) {
      const socket = connect({
        host: '127.0.0.1',
        port: b.address().port,
        localAddress: '127.0.0.3',
      })
      socket.on('error', () => {})
      socket.on('connect', () => socket.end(randomBytes(1 + i * 300)))
    }
    const a = await startTransport()
    const { echoed, expected } = await echoTransfer(a, b, 256 * 1024)
    expect(echoed).toEqual(expected)
  })
})

/** An authenticated peer (right key, right topic proof) that then breaks the stream rules. */
async function rawPeer(b: Transport) {
  const identity = createIdentity()
  const socket = connect({ host: '127.0.0.1', port: b.address().port })
  const noise = new NoiseSecretStream(true, socket, {
    keyPair: {
      publicKey: Buffer.from(identity.publicKey),
      secretKey: Buffer.from(identity.secretKey),
    },
  })
  noise.on('error', () => {})
  const messages: Uint8Array[] = []
  noise.on('data', (m: Uint8Array) => messages.push(m))
  const closed = new Promise<void>((resolve) => noise.once('close', () => resolve()))
  expect(await noise.opened).toBe(true)
  const proof = createHelloProof(await topic(), {
    role: 'dialer',
    dialerKey: identity.publicKey,
    acceptorKey: b.publicKey,
    binding: noise.handshakeHash!,
  })
  noise.write(encodeFrame(FrameType.HELLO, 0, encodeHelloPayload(proof, undefined)))
  await within(
    (async () => {
      while (messages.length === 0) await new Promise((r) => setTimeout(r, 5))
    })(),
    5000,
    'hello answer',
  )
  expect(messages[0]![0]).toBe(FrameType.HELLO)
  /** The CLOSE code b sent before hanging up. */
  const closeCode = async () => {
    await within(closed, 5000, 'hang-up')
    for (const message of messages) {
      for (let at = 0; at + 9 <= message.length; at += 9 + readU32(message, at + 5)) {
        if (message[at] === FrameType.CLOSE) {
          return decodeCodeAndReason(message.subarray(at + 9, at + 9 + readU32(message, at + 5)))
            .code
        }
      }
    }
    return undefined
  }
  return { noise, closeCode }
}

describe('hostile authenticated peers', () => {
  const violations: Array<[string, () => Uint8Array[]]> = [
    ['data on a stream never opened', () => [encodeFrame(FrameType.DATA, 1, new Uint8Array(10))]],
    ['an open with the acceptor’s stream-id parity', () => [encodeFrame(FrameType.OPEN, 2)]],
    [
      'more data than the window allows',
      () => [
        encodeFrame(FrameType.OPEN, 1),
        encodeFrame(FrameType.DATA, 1, new Uint8Array(300 * 1024)),
      ],
    ],
    ['a truncated frame header', () => [Uint8Array.of(FrameType.DATA, 0, 0)]],
    [
      'a frame longer than its message',
      () => [encodeFrame(FrameType.PING, 0, new Uint8Array(8)).subarray(0, 12)],
    ],
    ['a second hello', () => [encodeFrame(FrameType.HELLO, 0, new Uint8Array(40))]],
  ]
  for (const [name, frames] of violations) {
    it(`closes the connection with PROTOCOL_ERROR on ${name}, and keeps serving others`, async () => {
      const b = await startTransport()
      serveEcho(b)
      const accepted = nextConnection(b)
      const { noise, closeCode } = await rawPeer(b)
      const connection = await accepted
      const closed = new Promise<Error>((resolve) =>
        connection.addEventListener('close', (e) => resolve(e.detail), { once: true }),
      )
      for (const frame of frames()) noise.write(frame)
      expect(await closeCode()).toBe(CloseCode.PROTOCOL_ERROR)
      const reason = await within(closed, 5000, 'connection closed')
      expect((reason as { code?: string }).code).toBe('PROTOCOL_ERROR')
      const a = await startTransport()
      const { echoed, expected } = await echoTransfer(a, b, 64 * 1024)
      expect(echoed).toEqual(expected)
    })
  }
})
