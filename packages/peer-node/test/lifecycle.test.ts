import { createRequestServer } from '@harddrive-party/peer-node'
import { afterEach, describe, expect, it } from 'vitest'
import { outcomesAfter } from './raw-peer'
import { Cleanups, connectClient, readBody, rejection, startServingPeer } from './serving-helpers'

const cleanups = new Cleanups()
afterEach(() => cleanups.run())

describe('request server lifecycle', () => {
  it('starts and stops idempotently, and refuses to serve when stopped', async () => {
    const peer = await startServingPeer(cleanups, { 'a.txt': 'a' })
    const server = createRequestServer({ store: peer.store })
    await server.stop() // before start: nothing to do
    await server.start()
    await server.start()
    await server.stop()
    await server.stop()
    const { connection } = await connectClient(cleanups, peer)
    const refused = await rejection(server.serve(connection))
    expect(refused.code).toBe('NOT_STARTED')
  })

  it('stop() ends waiting and running reads; their clients get INTERRUPTED', async () => {
    const peer = await startServingPeer(
      cleanups,
      { 'big.bin': 8 << 20 },
      {
        limits: { uploadSlots: 1 },
      },
    )
    const { client } = await connectClient(cleanups, peer)
    const running = await client.read('music/big.bin') // holds the only slot, never read
    const waiting = client.read('music/big.bin')
    await outcomesAfter([waiting], 100)
    expect(peer.server.stats().uploadSlots).toEqual({ active: 1, waiting: 1 })
    await peer.server.stop()
    expect((await rejection(waiting)).code).toBe('INTERRUPTED')
    expect((await rejection(readBody(running.body))).code).toBe('INTERRUPTED')
    expect(peer.server.stats()).toMatchObject({
      requests: 0,
      uploadSlots: { active: 0, waiting: 0 },
    })
  })

  it('a client that gives up while queued leaves the queue (AbortError on its side)', async () => {
    const peer = await startServingPeer(
      cleanups,
      { 'big.bin': 8 << 20 },
      {
        limits: { uploadSlots: 1, queuePositionIntervalMs: 20 },
      },
    )
    const { client } = await connectClient(cleanups, peer)
    const first = await client.read('music/big.bin')
    const controller = new AbortController()
    const positions: number[] = []
    const queued = client.read(
      'music/big.bin',
      {},
      {
        signal: controller.signal,
        onProgress: (e) => positions.push(e.position),
      },
    )
    await outcomesAfter([queued], 100)
    expect(positions).toEqual([1])
    expect(peer.server.stats().uploadSlots.waiting).toBe(1)
    controller.abort()
    expect((await rejection(queued)).name).toBe('AbortError')
    await outcomesAfter([], 100)
    expect(peer.server.stats().uploadSlots.waiting).toBe(0)
    first.abort()
    await outcomesAfter([], 100)
    expect(peer.server.stats()).toMatchObject({ requests: 0, uploadSlots: { active: 0 } })
  })
})
