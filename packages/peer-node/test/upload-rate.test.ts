import { createHash } from 'node:crypto'
import { closeSync, openSync, writeSync } from 'node:fs'
import { join } from 'node:path'
import { afterEach, describe, expect, it } from 'vitest'
import { Cleanups, connectClient, patternBytes, startServingPeer } from './serving-helpers'

const cleanups = new Cleanups()
afterEach(() => cleanups.run())

const MiB = 1024 * 1024

/** Reads a whole remote file, counting bytes; returns bytes/s over the body. */
async function timedRead(
  client: Awaited<ReturnType<typeof connectClient>>['client'],
  path: string,
) {
  const read = await client.read(path)
  const started = performance.now()
  let bytes = 0
  for await (const chunk of read.body) bytes += chunk.length
  const seconds = (performance.now() - started) / 1000
  return { bytes, seconds, rate: bytes / seconds }
}

describe('upload rate limits', () => {
  it('holds one peer to its per-peer rate', async () => {
    const peer = await startServingPeer(
      cleanups,
      { 'a.bin': 6 * MiB },
      {
        limits: { uploadBytesPerSecondPerPeer: 2 * MiB },
      },
    )
    const { client } = await connectClient(cleanups, peer)
    const { bytes, seconds, rate } = await timedRead(client, 'music/a.bin')
    console.log(
      `per-peer limit 2 MiB/s: ${bytes} bytes in ${seconds.toFixed(2)} s = ${(rate / MiB).toFixed(2)} MiB/s`,
    )
    expect(bytes).toBe(6 * MiB)
    // The first 1/10 s of traffic is a burst; the rest is paced. The upper bound is the limit;
    // the lower one only says it is not throttled far below it (late timers on a loaded machine).
    expect(rate / MiB).toBeGreaterThan(2 * 0.7)
    expect(rate / MiB).toBeLessThan(2 * 1.15)
  })

  it('shares the global rate between peers', async () => {
    const peer = await startServingPeer(
      cleanups,
      { 'a.bin': 3 * MiB, 'b.bin': 3 * MiB },
      {
        limits: { uploadBytesPerSecond: 2 * MiB },
      },
    )
    const one = await connectClient(cleanups, peer)
    const two = await connectClient(cleanups, peer)
    const started = performance.now()
    const [a, b] = await Promise.all([
      timedRead(one.client, 'music/a.bin'),
      timedRead(two.client, 'music/b.bin'),
    ])
    const seconds = (performance.now() - started) / 1000
    const total = (a.bytes + b.bytes) / seconds
    console.log(
      `global limit 2 MiB/s, two peers: ${(total / MiB).toFixed(2)} MiB/s together; each ${(a.rate / MiB).toFixed(2)} and ${(b.rate / MiB).toFixed(2)} MiB/s`,
    )
    expect(total / MiB).toBeGreaterThan(2 * 0.7)
    expect(total / MiB).toBeLessThan(2 * 1.15)
    // Neither peer gets the whole budget: each about half.
    expect(Math.min(a.rate, b.rate) / Math.max(a.rate, b.rate)).toBeGreaterThan(0.6)
  })
})

describe('streaming a large file', () => {
  it('keeps memory bounded (never buffers the file) and arrives byte-exact', async () => {
    const SIZE = 256 * MiB
    const peer = await startServingPeer(cleanups, {})
    // Written in 1 MiB pieces, so the test itself never holds the file either.
    const fd = openSync(join(peer.shareDir, 'large.bin'), 'w')
    const sent = createHash('sha256')
    for (let at = 0; at < SIZE; at += MiB) {
      const piece = patternBytes(MiB, at / MiB)
      sent.update(piece)
      writeSync(fd, piece)
    }
    closeSync(fd)
    await peer.store.rescan()
    const { client } = await connectClient(cleanups, peer)
    global.gc?.()
    const baseline = process.memoryUsage().rss
    let peak = baseline
    const sampler = setInterval(() => {
      peak = Math.max(peak, process.memoryUsage().rss)
    }, 20)
    const received = createHash('sha256')
    let bytes = 0
    const started = performance.now()
    try {
      const read = await client.read('music/large.bin')
      for await (const chunk of read.body) {
        received.update(chunk)
        bytes += chunk.length
      }
    } finally {
      clearInterval(sampler)
    }
    const seconds = (performance.now() - started) / 1000
    const grewMiB = (peak - baseline) / MiB
    console.log(
      `256 MiB through one process (server + client): ${(bytes / MiB / seconds).toFixed(0)} MiB/s, RSS ${(baseline / MiB).toFixed(0)} MiB -> peak ${(peak / MiB).toFixed(0)} MiB (+${grewMiB.toFixed(0)} MiB)`,
    )
    expect(bytes).toBe(SIZE)
    expect(received.digest('hex')).toBe(sent.digest('hex'))
    // Both ends' buffers together (transport windows of up to 16 MiB a side): far below the file.
    expect(grewMiB).toBeLessThan(80)
  }, 120_000)
})
