import { createHash } from 'node:crypto'
import { mkdir, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { afterAll, describe, expect, it } from 'vitest'
import { bearer, rawPath, useApiPair } from './api-helpers'
import { Cleanup, waitUntil } from './helpers'

const ctx = useApiPair()
const cleanup = new Cleanup()
afterAll(() => cleanup.run())

const MIB = 1024 * 1024
const SIZE = 64 * MIB
/** Download rate: the 64 MiB take ~10 s, so the file is mid-download while we ask for ranges. */
const RATE = 6 * MIB

/** 64 MiB that differ everywhere: a random MiB with each MiB's number stamped every 4 KiB. */
function videoBytes(): Buffer {
  const block = createHash('sha512').update('block').digest()
  const buf = Buffer.alloc(SIZE)
  for (let i = 0; i < SIZE; i += block.length) block.copy(buf, i)
  for (let i = 0; i < SIZE; i += 4096) buf.writeUInt32BE(i, i)
  return buf
}

describe('a video-sized file played while it downloads (/files/downloads over real HTTP)', () => {
  it('ranges of the part already here: 206, video/mp4, Content-Range with the final size; a range not here yet waits; paused is 409; past the end 416', async () => {
    const { client, alice, bob, server } = ctx.pair
    const video = videoBytes()
    const dir = join(await cleanup.dir(), 'movies')
    await mkdir(dir)
    await writeFile(join(dir, 'film.mp4'), video)
    await alice.store.shares.add(dir)
    await alice.store.rescan()
    bob.downloads.setLimits({ bytesPerSecond: RATE })
    const { request } = await client.call('download', { peer: alice.name, path: 'movies/film.mp4' })
    const url = `/files/downloads/${request.id}/0`
    const get = (range?: string) =>
      rawPath(server, url, { ...bearer(server), ...(range ? { range } : {}) })
    const onDisk = async () => (await bob.downloads.file(request.id, 0))?.bytesOnDisk ?? 0
    await waitUntil(
      '4 MiB on disk',
      () => (bob.downloads.get(request.id)?.bytesDone ?? 0) > 4 * MIB,
    )

    const first = await get('bytes=0-99')
    expect(first.status).toBe(206)
    expect(first.headers['content-type']).toBe('video/mp4')
    expect(first.headers['content-range']).toBe(`bytes 0-99/${SIZE}`)
    expect(first.headers['content-length']).toBe('100')
    expect(first.body.equals(video.subarray(0, 100))).toBe(true)
    // Still downloading: the answers came from the .part file.
    expect(bob.downloads.get(request.id)?.state).toBe('active')
    expect(await onDisk()).toBeLessThan(SIZE)

    const middle = await get(`bytes=${MIB}-${2 * MIB - 1}`)
    expect(middle.status).toBe(206)
    expect(middle.headers['content-range']).toBe(`bytes ${MIB}-${2 * MIB - 1}/${SIZE}`)
    expect(middle.body.equals(video.subarray(MIB, 2 * MIB))).toBe(true)

    // Open-ended: up to the last byte here, with the final size (the player asks for the rest).
    const open = await get('bytes=0-')
    expect(open.status).toBe(206)
    const [, endText, totalText] = /^bytes 0-(\d+)\/(\d+)$/.exec(
      String(open.headers['content-range']),
    ) as RegExpExecArray
    expect(Number(totalText)).toBe(SIZE)
    expect(Number(endText) + 1).toBe(open.body.length)
    expect(open.body.length).toBeGreaterThan(4 * MIB)
    expect(open.body.length).toBeLessThan(SIZE)
    expect(open.body.equals(video.subarray(0, open.body.length))).toBe(true)

    // Past the final size: 416 with the size.
    const past = await get(`bytes=${SIZE}-`)
    expect(past.status).toBe(416)
    expect(past.headers['content-range']).toBe(`bytes */${SIZE}`)

    // A range not here yet while the download is paused: it will not come, 409 at once.
    await client.call('pause', { requestId: request.id })
    // 16 MiB past what is here: ~3 s at the download rate, well inside the 20 s wait even on a
    // loaded machine.
    const late = Math.min((await onDisk()) + 16 * MIB, SIZE - 100)
    const paused = await get(`bytes=${late}-${late + 99}`)
    expect(paused.status).toBe(409)
    expect(JSON.parse(paused.body.toString()).error.code).toBe('CONFLICT')
    await client.call('resume', { requestId: request.id })

    // A range not here yet while it downloads: the answer waits until its first byte arrives.
    expect(await onDisk()).toBeLessThan(late)
    const asked = performance.now()
    const waited = await get(`bytes=${late}-${late + 99}`)
    const seconds = (performance.now() - asked) / 1000
    expect(waited.status).toBe(206)
    expect(waited.headers['content-range']).toBe(`bytes ${late}-${late + 99}/${SIZE}`)
    expect(waited.body.equals(video.subarray(late, late + 100))).toBe(true)
    expect(seconds).toBeGreaterThan(1)
    expect(await onDisk()).toBeGreaterThan(late)
    console.log(`a range ${late} bytes in was answered after waiting ${seconds.toFixed(1)} s`)

    await waitUntil(
      'the download is done',
      () => bob.downloads.get(request.id)?.state === 'done',
      60_000,
    )
    const whole = await get()
    expect(whole.status).toBe(200)
    expect(whole.headers['content-length']).toBe(String(SIZE))
    expect(whole.body.equals(video)).toBe(true)
    bob.downloads.setLimits({ bytesPerSecond: 0 })
  }, 120_000)
})
