// Issue 12: the transport on an emulated long link (test-lab's link emulator between two
// namespaces). Speed goals live in `pnpm bench` (bench/links.ts); this test holds a floor that
// the old window growth could not reach, loose enough for a loaded machine.
import { LinkLab, linkLabSupport, skipReason } from '@harddrive-party/test-lab'
import { describe, expect, it } from 'vitest'
import { fixture } from './helpers'

const support = linkLabSupport()
if (!support.ok) console.warn(`transport link tests ${skipReason(support)}`)

/** 200 Mbit/s with 100 ms of round trip, no loss. */
const LINK = { rateBitsPerSecond: 200e6, delayMs: 50, loss: 0 }
const SIZE = 24 * 1024 * 1024
/**
 * Before issue 12 a UDX stream window grew only after a new ping sample, and pings came every
 * 5 s, so one stream moved at most 256 KiB per round trip: 2.6 MB/s here (measured 2.8 MB/s,
 * 24 MiB in 8.9 s). 1.6 times that needs the window to grow with the path; after the fix
 * this test measured 6-13 MB/s on a loaded machine.
 */
const FLOOR_BYTES_PER_SECOND = 4.2e6

describe.skipIf(!support.ok)('over an emulated 200 Mbit/s link with 100 ms RTT', () => {
  it('one UDX stream beats the old window-bound rate by half again, and auto dialling picks UDX', async () => {
    const link = await LinkLab.create(LINK)
    try {
      const server = link.b.spawnNode(fixture('peer.ts'), ['--host', '0.0.0.0', '--topic', 'link'])
      const client = link.a.spawnNode(fixture('peer.ts'), ['--host', '0.0.0.0', '--topic', 'link'])
      const [, port, key] = (await server.waitForLine(/^ready /, { timeoutMs: 30_000 })).split(' ')
      await client.waitForLine(/^ready /, { timeoutMs: 30_000 })
      const fetch = async (carrier: string) => {
        const seen = client.lines.length
        client.send(`dial ${link.bAddress} ${port} ${key} ${carrier} ${SIZE}`)
        const line = await client.waitForLine(/^(received|error) /, {
          timeoutMs: 90_000,
          after: seen,
        })
        const [, used, bytes, , ms, buffer] = line.split(' ')
        return { used, bytes: Number(bytes), ms: Number(ms), buffer: Number(buffer) }
      }
      const udx = await fetch('udx')
      const rate = udx.bytes / (udx.ms / 1000)
      console.log(
        `24 MiB over UDX at 200 Mbit/s, 100 ms RTT: ${(rate / 1e6).toFixed(1)} MB/s (${udx.ms} ms), receive buffer ${udx.buffer} bytes`,
      )
      expect(udx.bytes).toBe(SIZE)
      expect(rate).toBeGreaterThan(FLOOR_BYTES_PER_SECOND)
      // The transport asks for 4 MiB; the kernel reports more than its 208 KiB default.
      expect(udx.buffer).toBeGreaterThan(2 * 212_992)

      // A 100 ms path: the carrier rule prefers UDX over TCP.
      const auto = await fetch('auto')
      expect(auto.used).toBe('udx')
      expect(auto.bytes).toBe(SIZE)
      for (const p of [server, client]) p.send('stop')
      for (const p of [server, client]) expect(await p.exited).toEqual({ code: 0, signal: null })
    } finally {
      await link.destroy()
    }
  })
})
