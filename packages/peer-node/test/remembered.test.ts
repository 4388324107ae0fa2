import { readFile } from 'node:fs/promises'
import { join } from 'node:path'
import { afterEach, describe, expect, it } from 'vitest'
import { Cleanup, connectedTo, loopbackOptions, useMosquitto, waitUntil } from './helpers'

const broker = useMosquitto()
const cleanup = new Cleanup()
afterEach(() => cleanup.run())

describe('remembered peers', () => {
  it('after a restart with no discovery at all, the dialer reaches the peer at its last address', async () => {
    const dirs = [await cleanup.dir(), await cleanup.dir()]
    const first = dirs.map((d) => cleanup.node(loopbackOptions(d, broker.url)))
    await Promise.all(first.map((n) => n.start()))
    for (const n of first) await n.join('old friends')
    await waitUntil('connected', () => first.every((n) => connectedTo(n).length === 1))
    const keys = first.map((n) => Buffer.from(n.publicKey).toString('hex'))
    await Promise.all(first.map((n) => n.stop()))
    // Each remembers the other, with the address that worked.
    const book = JSON.parse(await readFile(join(dirs[0]!, 'peers.json'), 'utf8'))
    expect(book.peers.map((p: { key: string }) => p.key)).toEqual([keys[1]])
    expect(book.peers[0].addresses).toContainEqual({ host: '127.0.0.1', port: expect.any(Number) })

    // Both come back without MQTT or mDNS: only the peer book can bring them together.
    const again = dirs.map((d) => cleanup.node(loopbackOptions(d, broker.url, { mqtt: false })))
    const dialerIndex = keys[0]! < keys[1]! ? 0 : 1
    await again[1 - dialerIndex]!.start() // the one that waits listens first
    await again[dialerIndex]!.start()
    await waitUntil('connected again', () => again.every((n) => connectedTo(n).length === 1))
    const seen = again[dialerIndex]!.peers()[0]!
    expect(seen.attempt?.via).toBe('remembered')
    expect(seen.attempt?.used).toBe('remembered')
    expect(seen.announcedVia).toEqual([])
    expect(again[1 - dialerIndex]!.peers()[0]!.attempt?.used).toBe('accepted')
  }, 30_000)
})
