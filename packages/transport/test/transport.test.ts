import { randomBytes } from 'node:crypto'
import { createSocket as createDgramSocket } from 'node:dgram'
import { createServer } from 'node:net'
import { spawnNode } from '@harddrive-party/test-lab'
import { describe, expect, it } from 'vitest'
import {
  type Connection,
  isTransportError,
  MAX_STREAMS_PER_SIDE,
  type TransportStream,
} from '../src/index'
import {
  fixture,
  loopback,
  nextConnection,
  readAll,
  serveEcho,
  sha256,
  sha256Of,
  startTransport,
  topic,
  within,
  writeAll,
} from './helpers'

async function errorOf(promise: Promise<unknown>): Promise<unknown> {
  return promise.then(
    () => {
      throw new Error('expected a failure')
    },
    (err: unknown) => err,
  )
}

describe('carriers', () => {
  for (const carrier of ['udx', 'tcp'] as const) {
    it(`moves 8 MiB both ways over the ${carrier} carrier, bytes intact`, async () => {
      const a = await startTransport()
      const b = await startTransport()
      serveEcho(b)
      const connection = await a.dial(loopback(b), b.publicKey, {
        topic: await topic(),
        carriers: [carrier],
      })
      expect(connection.carrier).toBe(carrier)
      const data = randomBytes(8 * 1024 * 1024)
      const stream = await connection.openStream()
      const [echoed] = await Promise.all([sha256Of(stream), writeAll(stream, data)])
      expect(echoed).toEqual({ hash: sha256(data), bytes: data.length })
      const stats = connection.stats()
      expect(stats.bytesSent).toBeGreaterThan(data.length)
      expect(stats.bytesReceived).toBeGreaterThan(data.length)
    })

    it(`rejects a wrong key with PEER_KEY_MISMATCH over ${carrier}, both directions`, async () => {
      const a = await startTransport()
      const b = await startTransport()
      const t = await topic()
      for (const [from, to, wrong] of [
        [a, b, a.publicKey],
        [b, a, b.publicKey],
      ] as const) {
        const err = await errorOf(from.dial(loopback(to), wrong, { topic: t, carriers: [carrier] }))
        expect(isTransportError(err) && err.code).toBe('PEER_KEY_MISMATCH')
      }
      expect(a.connections()).toHaveLength(0)
      expect(b.connections()).toHaveLength(0)
    })
  }

  it('races both carriers by default and keeps one connection', async () => {
    const a = await startTransport()
    const b = await startTransport()
    const accepted = nextConnection(b)
    const connection = await a.dial(loopback(b), b.publicKey, { topic: await topic() })
    // Loopback is this host: TCP (its lower CPU per byte), however slow the connect looked.
    expect(connection.carrier).toBe('tcp')
    expect((await accepted).carrier).toBe(connection.carrier)
    await new Promise((r) => setTimeout(r, 200)) // the losing attempt is torn down
    expect(a.connections()).toHaveLength(1)
    expect(b.connections()).toHaveLength(1)
  })

  it('takes TCP on loopback even when a busy event loop makes the connect look slow', async () => {
    const a = await startTransport()
    const b = await startTransport()
    // 10 ms of work in every turn of the loop, as a share scan at start-up does: the TCP
    // connect callback runs that much later than the connect, past the 5 ms LAN rule.
    const busy = setInterval(() => {
      const until = performance.now() + 10
      while (performance.now() < until) {}
    }, 1)
    try {
      const connection = await a.dial(loopback(b), b.publicKey, { topic: await topic() })
      expect(connection.carrier).toBe('tcp')
    } finally {
      clearInterval(busy)
    }
  })

  it('falls back to UDX when the TCP port answers with something else', async () => {
    const b = await startTransport({ tcp: false })
    // A stranger on b's TCP port number: speaks, but not Noise.
    const stranger = createServer((socket) => {
      socket.on('error', () => {})
      socket.end('HTTP/1.1 400 Bad Request\r\n\r\n')
    })
    await new Promise<void>((resolve) => stranger.listen(b.address().port, '127.0.0.1', resolve))
    try {
      const a = await startTransport()
      const connection = await a.dial(loopback(b), b.publicKey, { topic: await topic() })
      expect(connection.carrier).toBe('udx')
    } finally {
      stranger.close()
    }
  })

  it('gives TIMEOUT when nothing answers, and AbortError when the caller aborts', async () => {
    const silent = createDgramSocket('udp4')
    await new Promise<void>((resolve) => silent.bind(0, '127.0.0.1', resolve))
    try {
      const port = (silent.address() as { port: number }).port
      const a = await startTransport({ handshakeTimeoutMs: 800 })
      const t = await topic()
      const timedOut = await errorOf(a.dial({ host: '127.0.0.1', port }, a.publicKey, { topic: t }))
      expect(isTransportError(timedOut) && timedOut.code).toBe('TIMEOUT')
      const controller = new AbortController()
      setTimeout(() => controller.abort(), 50)
      const aborted = await errorOf(
        a.dial({ host: '127.0.0.1', port }, a.publicKey, { topic: t, signal: controller.signal }),
      )
      expect((aborted as Error).name).toBe('AbortError')
    } finally {
      silent.close()
    }
  })
})

describe('dead peers', () => {
  for (const carrier of ['udx', 'tcp'] as const) {
    it(`notices a frozen peer over ${carrier} within the idle timeout (TIMEOUT)`, async () => {
      const peer = spawnNode(fixture('peer.ts'), ['--topic', 'transport-tests'])
      try {
        const [, port, key] = (await peer.waitForLine(/^ready /, { timeoutMs: 20_000 })).split(' ')
        const a = await startTransport({ keepAliveMs: 200, idleTimeoutMs: 1200 })
        const connection = await a.dial(
          { host: '127.0.0.1', port: Number(port) },
          Buffer.from(key!, 'hex'),
          {
            topic: await topic(),
            carriers: [carrier],
          },
        )
        const closed = new Promise<Error>((resolve) =>
          connection.addEventListener('close', (e) => resolve(e.detail), { once: true }),
        )
        const stream = await connection.openStream()
        const reading = readAll(stream).then(
          () => undefined,
          (e: unknown) => e,
        )
        peer.kill('SIGSTOP') // alive for the kernel, silent for us
        const reason = await within(closed, 6000, 'close after idle timeout')
        expect(isTransportError(reason) && reason.code).toBe('TIMEOUT')
        const streamError = await reading
        expect(isTransportError(streamError) && streamError.code).toBe('TIMEOUT')
      } finally {
        peer.kill('SIGKILL')
        await peer.exited
      }
    })
  }
})

describe('handshake limits', () => {
  it('answers a source that dials too often with RATE_LIMITED', async () => {
    const b = await startTransport({ limits: { handshakeBurst: 2, handshakesPerSecond: 0.01 } })
    const a = await startTransport()
    const t = await topic()
    for (let i = 0; i < 2; i++) {
      const connection = await a.dial(loopback(b), b.publicKey, { topic: t, carriers: ['udx'] })
      await connection.close()
    }
    const err = await errorOf(a.dial(loopback(b), b.publicKey, { topic: t, carriers: ['udx'] }))
    expect(isTransportError(err) && err.code).toBe('RATE_LIMITED')
    // TCP attempts draw on the same bucket: refused before any handshake.
    const tcp = await errorOf(a.dial(loopback(b), b.publicKey, { topic: t, carriers: ['tcp'] }))
    expect(isTransportError(tcp) && ['HANDSHAKE_FAILED', 'CLOSED'].includes(tcp.code)).toBe(true)
  })
})

describe('extra sockets', () => {
  it('dials from a socket made by createSocket and accepts on one', async () => {
    const a = await startTransport()
    const b = await startTransport()
    const t = await topic()
    const aSocket = await a.createSocket({ host: '127.0.0.1' })
    const bSocket = await b.createSocket({ host: '127.0.0.1' })
    expect(aSocket.port).not.toBe(a.socket.port)

    // a dials b's extra socket from a's extra socket.
    const accepted = nextConnection(b)
    const connection = await a.dial({ host: '127.0.0.1', port: bSocket.port }, b.publicKey, {
      topic: t,
      socket: aSocket,
    })
    expect(connection.carrier).toBe('udx')
    expect((await accepted).remoteAddress.port).toBe(aSocket.port)

    // Closing a socket ends the connections that run on it.
    const closed = new Promise<Error>((resolve) =>
      connection.addEventListener('close', (e) => resolve(e.detail), { once: true }),
    )
    await aSocket.close()
    const reason = await within(closed, 5000, 'close after socket close')
    expect(isTransportError(reason) && reason.code).toBe('CLOSED')
    const err = await errorOf(aSocket.send(new Uint8Array(1), b.socket.port, '127.0.0.1'))
    expect(isTransportError(err) && err.code).toBe('CLOSED')

    // The main socket cannot be closed from outside: stop() owns it.
    await a.socket.close()
    const again = await a.dial(loopback(b), b.publicKey, { topic: t, carriers: ['udx'] })
    expect(again.carrier).toBe('udx')
  })

  it('refuses a socket it does not own', async () => {
    const a = await startTransport()
    const b = await startTransport()
    const err = await errorOf(
      a.dial(loopback(b), b.publicKey, { topic: await topic(), socket: b.socket }),
    )
    expect(err).toBeInstanceOf(TypeError)
  })
})

describe('raw datagrams on the transport port', () => {
  it('delivers foreign datagrams (stray UDX ones too) to listeners, keeps its own', async () => {
    const b = await startTransport()
    const got: Uint8Array[] = []
    b.socket.onMessage(() => {
      throw new Error('a listener that throws must not break the socket')
    })
    const off = b.socket.onMessage((data) => got.push(data))
    const sender = createDgramSocket('udp4')
    const stun = Uint8Array.from([
      0x00,
      0x01,
      0x00,
      0x00,
      0x21,
      0x12,
      0xa4,
      0x42,
      ...randomBytes(12),
    ])
    const strayUdx = Uint8Array.from([0xff, 0x01, 0x00, 0x00, ...randomBytes(16)])
    const malformedControl = Uint8Array.from([0x48, 0x44, 0x50, 0x54, 1, 1, 0, 0])
    for (const datagram of [stun, strayUdx, malformedControl]) {
      sender.send(datagram, b.socket.port, '127.0.0.1')
    }
    await within(
      (async () => {
        while (got.length < 2) await new Promise((r) => setTimeout(r, 10))
      })(),
      3000,
      'datagrams',
    )
    sender.close()
    expect(got.map((d) => d[0])).toEqual([0x00, 0xff]) // the control-looking one is ours
    off()
    // Still serving after all that.
    const a = await startTransport()
    await a.dial(loopback(b), b.publicKey, { topic: await topic(), carriers: ['udx'] })
  })

  it('sends with a per-packet TTL', async () => {
    const a = await startTransport()
    const b = await startTransport()
    const got = new Promise<Uint8Array>((resolve) => b.socket.onMessage((data) => resolve(data)))
    await a.socket.send(Uint8Array.of(1, 2, 3), b.socket.port, '127.0.0.1', { ttl: 2 })
    expect([...(await within(got, 3000, 'datagram'))]).toEqual([1, 2, 3])
    const err = await errorOf(a.socket.send(Uint8Array.of(1), 0, '127.0.0.1'))
    expect(err).toBeInstanceOf(TypeError)
  })
})

describe('streams', () => {
  async function connected(): Promise<{ dialled: Connection; accepted: Connection }> {
    const a = await startTransport()
    const b = await startTransport()
    const accepted = nextConnection(b)
    const dialled = await a.dial(loopback(b), b.publicKey, {
      topic: await topic(),
      carriers: ['udx'],
    })
    return { dialled, accepted: await accepted }
  }

  it('aborts mid-transfer: reader gets AbortError, writer RESET, the connection goes on', async () => {
    const { dialled, accepted } = await connected()
    const data = randomBytes(32 * 1024 * 1024)
    const writes: Promise<unknown>[] = []
    void (async () => {
      for await (const stream of accepted.incomingStreams()) {
        writes.push(
          writeAll(stream, data).then(
            () => undefined,
            (e: unknown) => e,
          ),
        )
      }
    })()
    const controller = new AbortController()
    const stream = await dialled.openStream({ signal: controller.signal })
    await stream.write(Buffer.from('go'))
    let received = 0
    const reading = (async () => {
      for await (const chunk of stream) {
        received += chunk.length
        if (received > 4 * 1024 * 1024) controller.abort()
      }
    })()
    const readError = await errorOf(reading)
    expect((readError as Error).name).toBe('AbortError')
    expect(received).toBeLessThan(data.length)
    const writeError = await within(
      (async () => {
        while (writes.length === 0) await new Promise((r) => setTimeout(r, 10))
        return writes[0]
      })(),
      5000,
      'writer fails',
    )
    expect(isTransportError(writeError) && writeError.code).toBe('RESET')

    // A new stream on the same connection carries a whole transfer.
    const next = await dialled.openStream()
    await next.write(Buffer.from('go'))
    const { hash, bytes } = await sha256Of(next)
    expect(bytes).toBe(data.length)
    expect(hash).toBe(sha256(data))
  })

  it('keeps streams independent: a stalled one does not hold up another', async () => {
    const { dialled, accepted } = await connected()
    const incoming: TransportStream[] = []
    void (async () => {
      for await (const stream of accepted.incomingStreams()) incoming.push(stream)
    })()
    const stalled = await dialled.openStream()
    const filling = (async () => {
      for (;;) await stalled.write(new Uint8Array(64 * 1024))
    })()
    void filling.catch(() => {})
    const quick = await dialled.openStream()
    await quick.write(Buffer.from('ping'))
    await quick.end()
    await within(
      (async () => {
        while (incoming.length < 2) await new Promise((r) => setTimeout(r, 10))
      })(),
      5000,
      'both streams arrive',
    )
    // The first stream is never read and its window is full; the second still flows.
    const [, second] = incoming
    expect(new TextDecoder().decode(await within(readAll(second!), 5000, 'second stream'))).toBe(
      'ping',
    )
    stalled.abort()
  })

  it('shares the connection fairly: a second bulk stream flows while the first one is busy', async () => {
    const { dialled, accepted } = await connected()
    const size = 16 * 1024 * 1024
    void (async () => {
      for await (const stream of accepted.incomingStreams()) {
        void (async () => {
          for await (const _ of stream) break // the request
          await writeAll(stream, new Uint8Array(size))
        })()
      }
    })()
    const received = [0, 0]
    let firstWhenSecondStarted = -1
    let secondWhenFirstDone = -1
    const read = async (i: number) => {
      const stream = await dialled.openStream()
      await stream.write(Buffer.from('go'))
      for await (const chunk of stream) {
        if (i === 1 && received[1] === 0) firstWhenSecondStarted = received[0]!
        received[i]! += chunk.length
      }
      if (i === 0) secondWhenFirstDone = received[1]!
    }
    const first = read(0)
    await within(
      (async () => {
        while (received[0]! < 2 * 1024 * 1024) await new Promise((r) => setTimeout(r, 1))
      })(),
      10_000,
      'first stream under way',
    )
    await within(Promise.all([first, read(1)]), 30_000, 'both streams')
    // The second stream started long before the first finished, and they shared the bytes
    // (one after the other, the second would have next to nothing when the first is done).
    expect(firstWhenSecondStarted).toBeLessThan(size / 2)
    expect(secondWhenFirstDone).toBeGreaterThan(size / 4)
  })

  it('refuses streams beyond the backlog with STREAM_REFUSED', async () => {
    const a = await startTransport()
    const b = await startTransport({ limits: { streamBacklog: 2 } })
    const dialled = await a.dial(loopback(b), b.publicKey, {
      topic: await topic(),
      carriers: ['udx'],
    })
    const streams = await Promise.all([1, 2, 3].map(() => dialled.openStream()))
    for (const s of streams) void s.write(Buffer.from('x')).catch(() => {})
    const third = await errorOf(readAll(streams[2]!))
    expect(isTransportError(third) && third.code).toBe('STREAM_REFUSED')
  })

  it('waits for a free slot beyond the open-stream limit, and an aborted wait gives it up', async () => {
    const { dialled, accepted } = await connected()
    const held: TransportStream[] = []
    void (async () => {
      for await (const s of accepted.incomingStreams()) held.push(s)
    })()
    const mine = await Promise.all(
      Array.from({ length: MAX_STREAMS_PER_SIDE }, () => dialled.openStream()),
    )
    const controller = new AbortController()
    const aborted = dialled.openStream({ signal: controller.signal })
    let opened: TransportStream | undefined
    const waiting = dialled.openStream().then((s) => {
      opened = s
      return s
    })
    controller.abort()
    expect(((await errorOf(aborted)) as Error).name).toBe('AbortError')
    await new Promise((r) => setTimeout(r, 50))
    expect(opened).toBeUndefined()
    mine[0]!.abort() // frees one slot: it must go to the waiter still waiting
    const next = await within(waiting, 5000, 'freed slot')
    expect(next.id).toBeGreaterThan(mine.at(-1)!.id)
  })

  it('rejects writes after end() with CLOSED', async () => {
    const { dialled } = await connected()
    const stream = await dialled.openStream()
    await stream.end()
    const err = await errorOf(stream.write(Buffer.from('late')))
    expect(isTransportError(err) && err.code).toBe('CLOSED')
  })
})
