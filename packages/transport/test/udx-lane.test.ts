import { randomBytes } from 'node:crypto'
import { describe, expect, it } from 'vitest'
import type { PeerConnection } from '../src/connection'
import type { Connection, CreateLogger, Logger, Transport } from '../src/index'
import { echo } from '../src/testing-helpers'
import { encodeLaneHello } from '../src/udx-lane'
import {
  loopback,
  readAll,
  serveEcho,
  sha256,
  sha256Of,
  startTransport,
  topic,
  within,
  writeAll,
} from './helpers'

// The bulk lane (docs/transport.md §3.2) with real UDX sockets on loopback.

/** A logger that keeps every line, so a test can see why the acceptor refused a lane. */
function recordingLogger(lines: string[]): CreateLogger {
  return () => {
    const log = ((format: string, ...args: unknown[]) => {
      lines.push([format, ...args].join(' '))
    }) as Logger
    log.error = log
    log.trace = () => {}
    return log
  }
}

async function echoPair(
  serverOptions: Parameters<typeof startTransport>[0] = {},
): Promise<{ server: Transport; client: Transport; connection: Connection }> {
  const server = await startTransport(serverOptions)
  serveEcho(server)
  const client = await startTransport()
  const connection = await client.dial(loopback(server), server.publicKey, {
    topic: await topic(),
    carriers: ['udx'],
  })
  return { server, client, connection }
}

const lanes = (c: Connection) => (c as PeerConnection).lanes

/** An echo round trip on the main connection: the connection still serves. */
async function stillServes(connection: Connection): Promise<void> {
  const stream = await connection.openStream()
  const data = randomBytes(4096)
  await writeAll(stream, data)
  expect(sha256(await readAll(stream))).toBe(sha256(data))
}

async function until(check: () => boolean, what: string): Promise<void> {
  await within(
    (async () => {
      while (!check()) await new Promise((r) => setTimeout(r, 50))
    })(),
    20_000,
    what,
  )
}

describe('bulk lane', () => {
  it('carries bulk streams beside ordinary ones, both byte-exact', async () => {
    const { connection } = await echoPair()
    expect(connection.remoteVersion[1]).toBeGreaterThanOrEqual(2)
    const big = randomBytes(8 * 1024 * 1024)
    const small = randomBytes(64 * 1024)
    const bulk = await connection.openStream({ bulk: true })
    const plain = await connection.openStream()
    const [bulkBack, plainBack] = await Promise.all([
      Promise.all([writeAll(bulk, big), sha256Of(bulk)]).then(([, r]) => r),
      Promise.all([writeAll(plain, small), sha256Of(plain)]).then(([, r]) => r),
    ])
    expect(bulkBack).toEqual({ hash: sha256(big), bytes: big.length })
    expect(plainBack).toEqual({ hash: sha256(small), bytes: small.length })
    const stats = connection.stats()
    expect(stats.bulkLane?.opened).toBe(1)
    // The bulk bytes went on the lane, not on the main connection.
    expect(stats.bytesReceived).toBeLessThan(big.length)
    expect(stats.bulkLane?.current?.bytesReceived ?? 0).toBeGreaterThan(big.length)
  })

  it('closes when idle, and the next bulk stream gets a new lane', async () => {
    const { connection } = await echoPair()
    const first = await connection.openStream({ bulk: true })
    await writeAll(first, randomBytes(100_000))
    await readAll(first)
    expect(lanes(connection).current).toBeDefined()
    await until(() => lanes(connection).current === undefined, 'idle lane closed')
    expect(connection.closeReason).toBeUndefined()
    const second = await connection.openStream({ bulk: true })
    const data = randomBytes(300_000)
    await writeAll(second, data)
    expect(sha256(await readAll(second))).toBe(sha256(data))
    expect(connection.stats().bulkLane?.opened).toBe(2)
    // The first lane's end (it may come after the second opened) leaves the second's timer.
    await until(() => lanes(connection).current === undefined, 'second idle lane closed')
    expect(connection.closeReason).toBeUndefined()
  })

  it('a lane cut mid-transfer fails only its bulk stream', async () => {
    const { connection } = await echoPair()
    const bulk = await connection.openStream({ bulk: true })
    const plain = await connection.openStream()
    await bulk.write(randomBytes(64 * 1024))
    const reading = readAll(bulk).then(
      () => undefined,
      (err: unknown) => err,
    )
    lanes(connection).current!.destroy()
    const err = (await reading) as { code?: string } | undefined
    expect(err?.code).toBe('CLOSED')
    // The ordinary stream opened before the cut still works, and so do new ones.
    const data = randomBytes(10_000)
    await writeAll(plain, data)
    expect(sha256(await readAll(plain))).toBe(sha256(data))
    expect(connection.closeReason).toBeUndefined()
    await stillServes(connection)
    const again = await connection.openStream({ bulk: true })
    await writeAll(again, data)
    expect(sha256(await readAll(again))).toBe(sha256(data))
  })

  it('either side may dial it; when both dial at once one lane serves both', async () => {
    const { server, connection } = await echoPair()
    const accepted = server.connections()[0]!
    void (async () => {
      for await (const stream of connection.incomingStreams()) void echo(stream)
    })()
    const data = randomBytes(2 * 1024 * 1024)
    const roundTrip = async (from: Connection) => {
      const stream = await from.openStream({ bulk: true })
      const [, back] = await Promise.all([writeAll(stream, data), sha256Of(stream)])
      return back
    }
    const [a, b] = await Promise.all([roundTrip(connection), roundTrip(accepted)])
    expect(a).toEqual({ hash: sha256(data), bytes: data.length })
    expect(b).toEqual({ hash: sha256(data), bytes: data.length })
    expect(lanes(connection).current).toBeDefined()
    expect(lanes(accepted).current).toBeDefined()
    expect(connection.stats().bulkLane?.opened).toBe(1)
    expect(accepted.stats().bulkLane?.opened).toBe(1)
  })

  it('a 1.1 peer gets one lane: bulk streams go on the connection', async () => {
    const { connection } = await echoPair()
    ;(connection as PeerConnection).remoteVersion = [1, 1]
    const bulk = await connection.openStream({ bulk: true })
    const data = randomBytes(500_000)
    await writeAll(bulk, data)
    expect(sha256(await readAll(bulk))).toBe(sha256(data))
    expect(connection.stats().bulkLane).toBeUndefined()
  })

  it('a TCP connection ignores the option', async () => {
    const server = await startTransport()
    serveEcho(server)
    const client = await startTransport()
    const connection = await client.dial(loopback(server), server.publicKey, {
      topic: await topic(),
      carriers: ['tcp'],
    })
    const bulk = await connection.openStream({ bulk: true })
    const data = randomBytes(500_000)
    await writeAll(bulk, data)
    expect(sha256(await readAll(bulk))).toBe(sha256(data))
    expect(connection.stats().bulkLane).toBeUndefined()
  })
})

describe('hostile lane set-ups', () => {
  const refusedWith = async (lines: string[], code: string) =>
    until(() => lines.some((l) => l.includes(code)), `a ${code} line in the acceptor's log`)

  it('a lane naming an unknown connection is refused', async () => {
    const lines: string[] = []
    const { connection } = await echoPair({ logger: recordingLogger(lines) })
    const forged = encodeLaneHello(randomBytes(64))
    const err = await lanes(connection)
      .dialWith(forged, AbortSignal.timeout(20_000))
      .then(
        () => undefined,
        (e: { code?: string }) => e,
      )
    expect(err?.code).toBe('REJECTED')
    await refusedWith(lines, 'no such connection')
    await stillServes(connection)
  })

  it('a lane whose handshake proves another key is refused', async () => {
    const lines: string[] = []
    const { server, connection } = await echoPair({ logger: recordingLogger(lines) })
    const mallory = await startTransport()
    const other = await mallory.dial(loopback(server), server.publicKey, {
      topic: await topic(),
      carriers: ['udx'],
    })
    // Mallory names the honest client's connection (the hash is the same on both ends).
    const err = await lanes(other)
      .dialWith(encodeLaneHello(connection.handshakeHash), AbortSignal.timeout(20_000))
      .then(
        () => undefined,
        (e: { code?: string }) => e,
      )
    expect(err?.code).toBe('REJECTED')
    await refusedWith(lines, 'PEER_KEY_MISMATCH')
    expect(lanes(connection).current).toBeUndefined()
    await stillServes(connection)
    await stillServes(other)
  })

  it('a second lane while one is in use is refused', async () => {
    const lines: string[] = []
    const { connection } = await echoPair({ logger: recordingLogger(lines) })
    const bulk = await connection.openStream({ bulk: true })
    await bulk.write(randomBytes(1000))
    const err = await lanes(connection)
      .dialWith(encodeLaneHello(connection.handshakeHash), AbortSignal.timeout(20_000))
      .then(
        () => undefined,
        (e: { code?: string }) => e,
      )
    expect(err?.code).toBe('REJECTED')
    await refusedWith(lines, 'a lane is already open')
    await bulk.end()
    expect((await readAll(bulk)).length).toBe(1000)
    expect(connection.stats().bulkLane?.opened).toBe(1)
  })

  it('a flood of lane set-ups ends in refusals, the connection keeps serving', async () => {
    const lines: string[] = []
    const { server, connection } = await echoPair({ logger: recordingLogger(lines) })
    const tries = Array.from({ length: 64 }, () =>
      lanes(connection)
        .dialWith(encodeLaneHello(randomBytes(64)), AbortSignal.timeout(20_000))
        .then(
          () => 'opened',
          (e: { code?: string }) => e.code,
        ),
    )
    const codes = await Promise.all(tries)
    expect(codes).not.toContain('opened')
    for (const code of codes)
      expect(['REJECTED', 'RATE_LIMITED', 'HANDSHAKE_FAILED', 'TIMEOUT']).toContain(code)
    expect(codes).toContain('RATE_LIMITED')
    expect(server.connections().length).toBe(1)
    await stillServes(connection)
  })

  it('a lane that never finishes its handshake is dropped in time', async () => {
    const lines: string[] = []
    const { connection } = await echoPair({
      logger: recordingLogger(lines),
      handshakeTimeoutMs: 1500,
    })
    // Noise completes, but no lane hello ever comes.
    const silent = lanes(connection).dialWith(null, AbortSignal.timeout(30_000))
    const err = await silent.then(
      () => undefined,
      (e: { code?: string }) => e,
    )
    expect(['CLOSED', 'TIMEOUT']).toContain(err?.code)
    await refusedWith(lines, 'TIMEOUT')
    await stillServes(connection)
    expect(connection.closeReason).toBeUndefined()
  })

  it('the connection closing closes its lane', async () => {
    const { server, connection } = await echoPair()
    const accepted = server.connections()[0]!
    const bulk = await connection.openStream({ bulk: true })
    await bulk.write(randomBytes(1000))
    const lane = lanes(connection).current!
    await connection.close()
    await lane.whenClosed
    expect(lane.closeReason).toBeDefined()
    await until(() => lanes(accepted).current === undefined, 'acceptor lane closed')
  })
})
