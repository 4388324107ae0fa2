// The helpers the transport compliance suite is built from, published with it (./testing).
import { Duplex } from 'node:stream'
import { deriveTopicKeys, isHdpError, type TopicKeys } from '@harddrive-party/wire-protocol'
import { expect } from 'vitest'
import type { Connection, Transport, TransportStream } from './types'

/** Test-speed topic keys (cheap scrypt); every peer of a test must use the same cost. */
export function testTopic(name: string): Promise<TopicKeys> {
  return deriveTopicKeys(name, { kdf: { N: 1024, r: 8, p: 1 } })
}

/** Rejects with a clear message when `promise` takes longer than `ms` (a bound, not a speed test). */
export async function within<T>(promise: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined
  try {
    return await Promise.race([
      promise,
      new Promise<never>((_, reject) => {
        timer = setTimeout(() => reject(new Error(`${what}: not done within ${ms} ms`)), ms)
      }),
    ])
  } finally {
    clearTimeout(timer)
  }
}

/** Reads a stream to its end and returns the bytes. */
export async function readAll(stream: AsyncIterable<Uint8Array>): Promise<Uint8Array> {
  const parts: Uint8Array[] = []
  let length = 0
  for await (const chunk of stream) {
    parts.push(chunk)
    length += chunk.length
  }
  const out = new Uint8Array(length)
  let at = 0
  for (const p of parts) {
    out.set(p, at)
    at += p.length
  }
  return out
}

/** The next `connection` event of `transport`. */
export function nextConnection(transport: Transport, ms = 10_000): Promise<Connection> {
  return within(
    new Promise<Connection>((resolve) =>
      transport.addEventListener('connection', (e) => resolve(e.detail), { once: true }),
    ),
    ms,
    'connection event',
  )
}

/** Answers every incoming stream of every connection by echoing it back. */
export function serveEcho(transport: Transport): void {
  transport.addEventListener('connection', (event) => {
    void (async () => {
      for await (const stream of event.detail.incomingStreams()) void echo(stream)
    })()
  })
}

export async function echo(stream: TransportStream): Promise<void> {
  try {
    for await (const chunk of stream) await stream.write(chunk)
    await stream.end()
  } catch {
    stream.abort()
  }
}

export async function expectCode(promise: Promise<unknown>, code: string): Promise<unknown> {
  const err = await promise.then(
    () => undefined,
    (e: unknown) => e,
  )
  expect(err, `expected a ${code} error`).toBeDefined()
  expect(isHdpError(err), `expected a typed error, got ${String(err)}`).toBe(true)
  expect((err as { code: string }).code).toBe(code)
  return err
}

/**
 * Two in-memory duplexes joined back to back: a carrier for `dialThrough` with no socket;
 * `tap`, when given, sees every byte either way.
 */
export function duplexPair(tap?: (chunk: Uint8Array) => void): [Duplex, Duplex] {
  const ends: Duplex[] = []
  const make = (other: () => Duplex) =>
    new Duplex({
      read() {},
      write(chunk: Uint8Array, _encoding, callback) {
        tap?.(chunk)
        other().push(chunk)
        callback()
      },
      final(callback) {
        other().push(null)
        callback()
      },
    })
  ends.push(
    make(() => ends[1]!),
    make(() => ends[0]!),
  )
  return [ends[0]!, ends[1]!]
}
