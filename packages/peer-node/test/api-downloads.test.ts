import type { ApiEvent } from '@harddrive-party/wire-protocol'
import { describe, expect, it } from 'vitest'
import { bearer, rawPath, useApiPair } from './api-helpers'
import { waitUntil } from './helpers'

const ctx = useApiPair()

function collect(events: AsyncGenerator<ApiEvent>): { list: ApiEvent[] } {
  const out = { list: [] as ApiEvent[] }
  void (async () => {
    for await (const e of events) out.list.push(e)
  })().catch(() => {})
  return out
}

describe('control API: downloads', () => {
  it('download, queue, transfer events, and /files/downloads with ranges', async () => {
    const { client, alice, server, clip } = ctx.pair
    const controller = new AbortController()
    const events = collect(client.events({ signal: controller.signal }))
    await new Promise((r) => setTimeout(r, 200))
    const { request } = await client.call('download', {
      peer: alice.name,
      path: 'files/video/clip.mp4',
    })
    expect(request.path).toBe('files/video/clip.mp4')
    await waitUntil('a done transfer event', () =>
      events.list.some(
        (e) => e.type === 'transfer' && e.requestId === request.id && e.state === 'done',
      ),
    )
    const { requests } = await client.call('queue')
    expect(requests.map((r) => [r.id, r.state])).toContainEqual([request.id, 'done'])
    const whole = await rawPath(server, `/files/downloads/${request.id}/0`, bearer(server))
    expect(whole.status).toBe(200)
    expect(whole.headers['content-type']).toBe('video/mp4')
    expect(whole.body.equals(clip)).toBe(true)
    const middle = await rawPath(server, `/files/downloads/${request.id}/0`, {
      ...bearer(server),
      range: 'bytes=100-199',
    })
    expect(middle.status).toBe(206)
    expect(middle.body.equals(clip.subarray(100, 200))).toBe(true)
    expect((await rawPath(server, `/files/downloads/${request.id}/1`, bearer(server))).status).toBe(
      404,
    )
    expect((await rawPath(server, '/files/downloads/nope/0', bearer(server))).status).toBe(404)
    controller.abort()
  })

  it('a file still downloading streams its part; pause, resume, reorder, cancel', async () => {
    const { client, alice, bob, server } = ctx.pair
    bob.downloads.setLimits({ bytesPerSecond: 128 * 1024 })
    const { request } = await client.call('download', {
      peer: alice.name,
      path: 'files/video/big.mp4',
    })
    const other = (await client.call('download', { peer: alice.name, path: 'files/music' })).request
    await waitUntil(
      'some bytes of big.mp4 on disk',
      () => (bob.downloads.get(request.id)?.bytesDone ?? 0) > 1000,
    )
    const part = await rawPath(server, `/files/downloads/${request.id}/0`, {
      ...bearer(server),
      range: 'bytes=0-99',
    })
    expect(part.status).toBe(206)
    expect(part.body.equals(Buffer.alloc(100, 7))).toBe(true)
    expect((await client.call('pause', { requestId: request.id })).request.state).toBe('paused')
    expect(
      (await client.call('reorder', { requestId: request.id, position: 1 })).request.position,
    ).toBe(1)
    // The folder of two small files is finished by now: it has no place in the queue.
    await waitUntil('the folder is done', () => bob.downloads.get(other.id)?.state === 'done')
    await expect(
      client.call('reorder', { requestId: other.id, position: 1 }),
    ).rejects.toMatchObject({ code: 'CONFLICT' })
    expect((await client.call('resume', { requestId: request.id })).request.state).not.toBe(
      'paused',
    )
    expect((await client.call('cancel', { requestId: request.id })).cancelled).toBe(true)
    await expect(client.call('pause', { requestId: request.id })).rejects.toMatchObject({
      code: 'NOT_FOUND',
    })
    await expect(
      client.call('reorder', { requestId: other.id, position: 0 }),
    ).rejects.toMatchObject({ code: 'BAD_REQUEST' })
    bob.downloads.setLimits({ bytesPerSecond: 0 })
    const limits = await client.call('limits')
    expect(limits.downloads.bytesPerSecond).toBe(0)
  })

  it('under a slow download limit, progress moves in small steps, not a carrier message at a time', async () => {
    const { client, alice, bob } = ctx.pair
    const size = 1024 * 1024
    const controller = new AbortController()
    const events = collect(client.events({ signal: controller.signal }))
    await new Promise((r) => setTimeout(r, 200))
    // 4 s for the MiB. A TCP carrier message holds up to 256 KiB: taken whole, the limit made
    // the bar jump a quarter of the file at a time (and a 30 KB/s limit, 8 s between moves).
    bob.downloads.setLimits({ bytesPerSecond: 256 * 1024 })
    try {
      const { request } = await client.call('download', {
        peer: alice.name,
        path: 'files/video/big.mp4',
      })
      await waitUntil('big.mp4 done', () => bob.downloads.get(request.id)?.state === 'done', 60_000)
      const steps = new Set(
        events.list.flatMap((e) =>
          e.type === 'transfer' && e.requestId === request.id && e.bytes > 0 && e.bytes < size
            ? [e.bytes]
            : [],
        ),
      )
      expect(steps.size).toBeGreaterThanOrEqual(6)
    } finally {
      bob.downloads.setLimits({ bytesPerSecond: 0 })
      controller.abort()
    }
  })
})
