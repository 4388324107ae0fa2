import type { IndexStore, WishlistRequest } from '@harddrive-party/index-store'
import { afterEach, describe, expect, it } from 'vitest'
import { testStore } from './helpers'

const ALICE = 'a'.repeat(64)
const BOB = Buffer.alloc(32, 0xb0)
const BOB_HEX = BOB.toString('hex')

const cleanups: (() => unknown)[] = []
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c()
})

async function setup(progressFlushMs = 1000) {
  const s = await testStore({ progressFlushMs })
  cleanups.push(s.close)
  return s
}

async function list(store: IndexStore, peer?: string | Uint8Array): Promise<WishlistRequest[]> {
  const out: WishlistRequest[] = []
  for await (const r of store.wishlist.list(peer === undefined ? {} : { peer })) out.push(r)
  return out
}

function fileRequest(path: string, size: number, peer: string | Uint8Array = ALICE, id?: string) {
  return {
    peer,
    path,
    size,
    mtime: 1_700_000_000_000,
    destination: '/downloads',
    ...(id === undefined ? {} : { id }),
  }
}

describe('wishlist', () => {
  it('persists file and directory requests with their files, grouped, in queue order', async () => {
    const { store } = await setup()
    const song = await store.wishlist.add(fileRequest('music/song.flac', 1000))
    const album = await store.wishlist.add({
      peer: BOB,
      path: 'music/album',
      dir: true,
      destination: '/downloads/bob',
      files: [
        { path: 'music/album/01.flac', size: 10 },
        { path: 'music/album/02.flac', size: 20, mtime: 5 },
        { path: 'music/album/cd2/03.flac', size: 30 },
      ],
    })
    expect(song).toMatchObject({
      peer: ALICE,
      state: 'queued',
      position: 1,
      files: 1,
      size: 1000,
      mtime: 1_700_000_000_000,
    })
    expect(album).toMatchObject({
      peer: BOB_HEX,
      dir: true,
      state: 'queued',
      position: 2,
      files: 3,
      size: 60,
    })
    const files = []
    for await (const f of store.wishlist.files(album.id)) files.push(f)
    expect(files.map((f) => [f.index, f.path, f.size, f.state])).toEqual([
      [0, 'music/album/01.flac', 10, 'queued'],
      [1, 'music/album/02.flac', 20, 'queued'],
      [2, 'music/album/cd2/03.flac', 30, 'queued'],
    ])
    expect((await list(store)).map((r) => r.id)).toEqual([song.id, album.id])
    expect((await list(store, BOB)).map((r) => r.id)).toEqual([album.id])
    expect((await list(store, ALICE.toUpperCase())).map((r) => r.id)).toEqual([song.id])
  })

  it('hands out the next file in queue order, tracks state and survives a restart', async () => {
    const { store } = await setup()
    const a = await store.wishlist.add(fileRequest('s/a', 100))
    const b = await store.wishlist.add({
      peer: ALICE,
      path: 's/dir',
      dir: true,
      destination: '/d',
      files: [
        { path: 's/dir/1', size: 10 },
        { path: 's/dir/2', size: 10 },
      ],
    })
    const first = store.wishlist.next()
    expect(first).toMatchObject({
      requestId: a.id,
      index: 0,
      path: 's/a',
      peer: ALICE,
      destination: '/downloads',
    })
    await store.wishlist.start(a.id, 0)
    expect(store.wishlist.get(a.id)?.state).toBe('active')
    // An active file is not handed out again; the next one comes from the next request.
    expect(store.wishlist.next()).toMatchObject({ requestId: b.id, index: 0 })
    await expect(store.wishlist.start(a.id, 0)).rejects.toMatchObject({ code: 'INVALID_STATE' })
    store.wishlist.progress(a.id, 0, 40)
    await store.wishlist.flush()
    expect(store.wishlist.get(a.id)?.bytesDone).toBe(40)
    const done = await store.wishlist.complete(a.id, 0)
    expect(done).toMatchObject({ state: 'done', bytesDone: 100 })
    expect(store.wishlist.get(a.id)).toMatchObject({
      state: 'done',
      filesDone: 1,
      bytesDone: 100,
      finishedAt: expect.any(Number),
    })
    expect(store.wishlist.get(a.id)?.position).toBeUndefined()
    expect(store.wishlist.get(b.id)?.position).toBe(1)
    await store.wishlist.start(b.id, 0)
    await store.wishlist.fail(b.id, 0, 'peer went away')
    expect(store.wishlist.get(b.id)).toMatchObject({
      state: 'queued',
      filesFailed: 1,
      reason: 'peer went away',
    })
    await store.wishlist.start(b.id, 1)
    store.wishlist.progress(b.id, 1, 3)

    // Restart: progress is flushed on close; an interrupted download is queued again.
    await store.stop()
    await store.start()
    expect(store.wishlist.get(a.id)).toMatchObject({ state: 'done', bytesDone: 100 })
    // One file failed, one is left to do: the request is still queued.
    expect(store.wishlist.get(b.id)).toMatchObject({
      state: 'queued',
      filesFailed: 1,
      bytesDone: 3,
    })
    expect(store.wishlist.next()).toMatchObject({
      requestId: b.id,
      index: 1,
      state: 'queued',
      bytesDone: 3,
    })
    // Resume retries the failed file.
    await store.wishlist.resume(b.id)
    expect(store.wishlist.get(b.id)).toMatchObject({ state: 'queued', filesFailed: 0 })
    expect(store.wishlist.get(b.id)?.reason).toBeUndefined()
    expect(store.wishlist.next()).toMatchObject({ requestId: b.id, index: 0 })
  })

  it('pauses, resumes, reorders and cancels', async () => {
    const { store } = await setup()
    const ids: string[] = []
    for (let i = 0; i < 5; i++)
      ids.push((await store.wishlist.add(fileRequest(`s/f${i}`, 1, i % 2 === 0 ? ALICE : BOB))).id)
    await store.wishlist.start(ids[0] as string, 0)
    const paused = await store.wishlist.pause(ids[0] as string)
    expect(paused.state).toBe('paused')
    const f0 = []
    for await (const f of store.wishlist.files(ids[0] as string)) f0.push(f.state)
    expect(f0).toEqual(['queued'])
    expect(store.wishlist.next()?.requestId).toBe(ids[1])
    expect(store.wishlist.next({ peer: ALICE })?.requestId).toBe(ids[2])
    expect((await store.wishlist.resume(ids[0] as string)).state).toBe('queued')
    expect(store.wishlist.next()?.requestId).toBe(ids[0])

    await store.wishlist.reorder(ids[4] as string, 1)
    await store.wishlist.reorder(ids[0] as string, 5)
    await store.wishlist.reorder(ids[2] as string, 2)
    expect((await list(store)).map((r) => [r.id, r.position])).toEqual([
      [ids[4], 1],
      [ids[2], 2],
      [ids[1], 3],
      [ids[3], 4],
      [ids[0], 5],
    ])
    expect(await store.wishlist.cancel(ids[1] as string)).toBe(true)
    expect(await store.wishlist.cancel(ids[1] as string)).toBe(false)
    expect((await list(store)).map((r) => r.position)).toEqual([1, 2, 3, 4])
    expect(store.wishlist.get(ids[1] as string)).toBeUndefined()
    await expect(store.wishlist.pause('missing')).rejects.toMatchObject({ code: 'UNKNOWN_REQUEST' })
  })

  it('keeps ranks apart after many moves between the same two neighbours', async () => {
    const { store } = await setup()
    const ids: string[] = []
    for (let i = 0; i < 4; i++) ids.push((await store.wishlist.add(fileRequest(`s/f${i}`, 1))).id)
    // Each move halves the gap between positions 1 and 2 until ranks must be renumbered.
    for (let i = 0; i < 80; i++) await store.wishlist.reorder(ids[2 + (i % 2)] as string, 2)
    const order = (await list(store)).map((r) => r.id)
    expect(order).toEqual([ids[0], ids[3], ids[2], ids[1]])
    expect(new Set(order).size).toBe(4)
  })

  it('writes progress in one batch per interval, not per call', async () => {
    const { store } = await setup(50)
    const r = await store.wishlist.add({
      peer: ALICE,
      path: 's/d',
      dir: true,
      destination: '/d',
      files: Array.from({ length: 20 }, (_, i) => ({ path: `s/d/${i}`, size: 1_000_000 })),
    })
    for (let i = 0; i < 20; i++) await store.wishlist.start(r.id, i)
    for (let step = 1; step <= 100; step++)
      for (let i = 0; i < 20; i++) store.wishlist.progress(r.id, i, step * 1000)
    // Nothing is written synchronously...
    expect(store.wishlist.get(r.id)?.bytesDone).toBe(0)
    // ...and within an interval the latest values all land together.
    await new Promise((resolve) => setTimeout(resolve, 300))
    expect(store.wishlist.get(r.id)?.bytesDone).toBe(20 * 100_000)
  })

  it('refuses malformed requests and duplicate ids with typed errors', async () => {
    const { store } = await setup()
    const bad = async (input: unknown) =>
      expect(
        store.wishlist.add(input as Parameters<typeof store.wishlist.add>[0]),
      ).rejects.toMatchObject({ code: 'BAD_REQUEST' })
    await bad(fileRequest('s/f', 1, 'xyz'))
    await bad(fileRequest('s/f', 1, new Uint8Array(31)))
    await bad(fileRequest('../etc/passwd', 1))
    await bad(fileRequest('', 1))
    await bad({ ...fileRequest('s/f', 1), destination: '' })
    await bad({ ...fileRequest('s/f', 1), size: -1 })
    await bad({ peer: ALICE, path: 's/d', dir: true, destination: '/d' })
    await bad({
      peer: ALICE,
      path: 's/d',
      dir: true,
      destination: '/d',
      files: [{ path: 's/other/x', size: 1 }],
    })
    await bad({
      peer: ALICE,
      path: 's/d',
      dir: true,
      destination: '/d',
      files: [{ path: 's/d/../../x', size: 1 }],
    })
    await bad({ ...fileRequest('s/f', 1), id: 'a\nb' })
    await store.wishlist.add(fileRequest('s/f', 1, ALICE, 'req-1'))
    await expect(store.wishlist.add(fileRequest('s/g', 1, ALICE, 'req-1'))).rejects.toMatchObject({
      code: 'DUPLICATE_REQUEST',
    })
    expect((await list(store)).map((r) => r.path)).toEqual(['s/f'])
  })

  it('treats an empty directory request as done', async () => {
    const { store } = await setup()
    const r = await store.wishlist.add({
      peer: ALICE,
      path: 's/empty',
      dir: true,
      destination: '/d',
      files: [],
    })
    expect(r).toMatchObject({ state: 'done', files: 0 })
    expect(store.wishlist.next()).toBeUndefined()
  })
})
