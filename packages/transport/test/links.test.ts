// Issue 12: the transport on an emulated long link (test-lab's link emulator between two
// namespaces). Speed goals live in `pnpm bench` (bench/links.ts); these tests check the
// mechanisms (window growth, a send gate that does not stall) with bounds a loaded machine meets.
import { LinkLab, linkLabSupport, skipReason } from '@harddrive-party/test-lab'
import { describe, expect, it } from 'vitest'
import { fixture } from './helpers'

const support = linkLabSupport()
if (!support.ok) console.warn(`transport link tests ${skipReason(support)}`)

/**
 * 20 Mbit/s with 400 ms of round trip, no loss: a long path that needs a window of a
 * bandwidth-delay product (1 MB) but little CPU, so a loaded machine does not decide the result.
 */
const LINK = { rateBitsPerSecond: 20e6, delayMs: 200, loss: 0 }
const SIZE = 16 * 1024 * 1024
/**
 * Before issue 12 a UDX stream window grew only after a new ping sample, and pings came every
 * 5 s, so one stream moved about 256 KiB per round trip (0.66 MB/s here): a fresh connection's
 * window stayed at its first 256 KiB for the first seconds of a transfer. Now samples come about
 * once per round trip, so the window reaches the path's bandwidth-delay product (1 MB) within
 * a few round trips. The test checks the window, not the rate: a rate floor failed in CI when
 * the loaded machine slowed the link emulator (0.96 MB/s against a 1.0 floor). The rate is
 * printed; speed goals live in `pnpm bench`.
 */
const BDP_BYTES = 1024 * 1024
const SHORT_SIZE = 2 * 1024 * 1024

describe.skipIf(!support.ok)('over an emulated 20 Mbit/s link with 400 ms RTT', () => {
  it('one UDX stream grows its window to the path within a few round trips, and auto dialling picks UDX', async () => {
    const link = await LinkLab.create(LINK)
    try {
      const server = link.b.spawnNode(fixture('peer.ts'), ['--host', '0.0.0.0', '--topic', 'link'])
      const client = link.a.spawnNode(fixture('peer.ts'), ['--host', '0.0.0.0', '--topic', 'link'])
      const [, port, key] = (await server.waitForLine(/^ready /, { timeoutMs: 30_000 })).split(' ')
      await client.waitForLine(/^ready /, { timeoutMs: 30_000 })
      const fetch = async (carrier: string, size: number) => {
        const seen = client.lines.length
        client.send(`dial ${link.bAddress} ${port} ${key} ${carrier} ${size}`)
        const line = await client.waitForLine(/^(received|error) /, {
          timeoutMs: 120_000,
          after: seen,
        })
        const [, used, bytes, , ms, buffer, window] = line.split(' ')
        return {
          used,
          bytes: Number(bytes),
          ms: Number(ms),
          buffer: Number(buffer),
          window: Number(window),
        }
      }
      const udx = await fetch('udx', SIZE)
      const rate = udx.bytes / (udx.ms / 1000)
      console.log(
        `16 MiB over UDX at 20 Mbit/s, 400 ms RTT: ${(rate / 1e6).toFixed(2)} MB/s (${udx.ms} ms), largest window ${udx.window} bytes, receive buffer ${udx.buffer} bytes`,
      )
      expect(udx.used).toBe('udx')
      expect(udx.bytes).toBe(SIZE)
      expect(udx.window).toBeGreaterThanOrEqual(BDP_BYTES)
      // The transport asks for 4 MiB; the kernel reports more than its 208 KiB default.
      expect(udx.buffer).toBeGreaterThan(2 * 212_992)

      // A 400 ms path: the carrier rule prefers UDX over TCP.
      // A fresh connection: the window grows within a 2 MiB transfer (the old one stayed at
      // 256 KiB until a keep-alive ping 5 s later).
      const auto = await fetch('auto', SHORT_SIZE)
      console.log(`2 MiB, auto carrier: ${auto.used}, ${auto.ms} ms, largest window ${auto.window}`)
      expect(auto.used).toBe('udx')
      expect(auto.bytes).toBe(SHORT_SIZE)
      expect(auto.window).toBeGreaterThanOrEqual(BDP_BYTES)
      for (const p of [server, client]) p.send('stop')
      for (const p of [server, client]) expect(await p.exited).toEqual({ code: 0, signal: null })
    } finally {
      await link.destroy()
    }
  }, 180_000)
})

/**
 * 20 Mbit/s, 100 ms RTT, 1 % random loss each way: there is nearly always a lost packet being
 * resent. The first UDX send gate counted the bytes delivered behind such a hole as unsent, so
 * it held the sender, libudx ran dry and its BBR estimate fell with it: at 0.5 % loss on a
 * 200 Mbit/s link the carrier made 2-31 Mbit/s against bare UDX's 150 (issue 12).
 */
const LOSSY_LINK = { rateBitsPerSecond: 20e6, delayMs: 50, loss: 0.01 }
const LOSSY_SIZE = 16 * 1024 * 1024
/**
 * The link carries 2.5 MB/s. At a load average of 11: old gate 1.09, 1.38 and 0.36 MB/s (it
 * collapsed), the gate that counts what libudx transmitted 1.63-1.80 MB/s (1.71 in CI). The
 * floor catches a collapse, not a slow run: a loaded machine slows the link emulator too.
 */
const LOSSY_FLOOR_BYTES_PER_SECOND = 0.8e6

describe.skipIf(!support.ok)('over an emulated 20 Mbit/s link with 100 ms RTT and 1 % loss', () => {
  it('one UDX stream keeps the send gate open through the losses', async () => {
    const link = await LinkLab.create(LOSSY_LINK)
    try {
      const server = link.b.spawnNode(fixture('peer.ts'), ['--host', '0.0.0.0', '--topic', 'lossy'])
      const client = link.a.spawnNode(fixture('peer.ts'), ['--host', '0.0.0.0', '--topic', 'lossy'])
      const [, port, key] = (await server.waitForLine(/^ready /, { timeoutMs: 30_000 })).split(' ')
      await client.waitForLine(/^ready /, { timeoutMs: 30_000 })
      client.send(`dial ${link.bAddress} ${port} ${key} udx ${LOSSY_SIZE}`)
      const line = await client.waitForLine(/^(received|error) /, { timeoutMs: 120_000 })
      const [, used, bytes, , ms] = line.split(' ')
      const rate = Number(bytes) / (Number(ms) / 1000)
      console.log(
        `16 MiB over UDX at 20 Mbit/s, 100 ms RTT, 1 % loss: ${(rate / 1e6).toFixed(2)} MB/s (${ms} ms)`,
      )
      expect(used).toBe('udx')
      expect(Number(bytes)).toBe(LOSSY_SIZE)
      expect(rate).toBeGreaterThan(LOSSY_FLOOR_BYTES_PER_SECOND)
      for (const p of [server, client]) p.send('stop')
      for (const p of [server, client]) expect(await p.exited).toEqual({ code: 0, signal: null })
    } finally {
      await link.destroy()
    }
  }, 180_000)
})
