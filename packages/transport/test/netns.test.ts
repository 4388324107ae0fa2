import { Lab, netnsSupport, skipReason } from '@harddrive-party/test-lab'
import { describe, expect, it } from 'vitest'
import { fixture } from './helpers'

const support = netnsSupport()
if (!support.ok) console.warn(`transport netns tests ${skipReason(support)}`)

describe.skipIf(!support.ok)('across two network namespaces joined by a veth pair', () => {
  it('connects and moves 16 MiB intact over UDX and over TCP, both directions', async () => {
    const lab = new Lab()
    try {
      const x = await lab.addNamespace('x')
      const y = await lab.addNamespace('y')
      await lab.link(x, 'v0', '10.99.51.1/24', y, 'v0', '10.99.51.2/24')
      const px = x.spawnNode(fixture('peer.ts'), ['--host', '0.0.0.0', '--topic', 'netns'])
      const py = y.spawnNode(fixture('peer.ts'), ['--host', '0.0.0.0', '--topic', 'netns'])
      const [, xPort, xKey] = (await px.waitForLine(/^ready /, { timeoutMs: 30_000 })).split(' ')
      const [, yPort, yKey] = (await py.waitForLine(/^ready /, { timeoutMs: 30_000 })).split(' ')
      const size = 16 * 1024 * 1024
      const cases = [
        { dialer: py, server: px, address: `10.99.51.1 ${xPort} ${xKey}` },
        { dialer: px, server: py, address: `10.99.51.2 ${yPort} ${yKey}` },
      ]
      for (const { dialer, server, address } of cases) {
        for (const carrier of ['udx', 'tcp']) {
          const seenReceived = dialer.lines.length
          const seenSent = server.lines.length
          dialer.send(`dial ${address} ${carrier} ${size}`)
          const received = await dialer.waitForLine(/^(received|error) /, {
            timeoutMs: 60_000,
            after: seenReceived,
          })
          const sent = await server.waitForLine(/^sent /, { timeoutMs: 10_000, after: seenSent })
          const [, usedCarrier, bytes, hash] = received.split(' ')
          expect(usedCarrier).toBe(carrier)
          expect(Number(bytes)).toBe(size)
          expect(hash).toBe(sent.split(' ')[1])
        }
      }
      // A wrong key is refused across the link too.
      const seen = py.lines.length
      py.send(`dial 10.99.51.1 ${xPort} ${yKey} udx 1`)
      expect(await py.waitForLine(/^(received|error) /, { timeoutMs: 30_000, after: seen })).toBe(
        'error PEER_KEY_MISMATCH',
      )
      for (const p of [px, py]) p.send('stop')
      for (const p of [px, py]) expect(await p.exited).toEqual({ code: 0, signal: null })
    } finally {
      await lab.destroy()
    }
  })
})
