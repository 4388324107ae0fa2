import { openIndexStore } from '@harddrive-party/index-store'
import { afterEach, describe, expect, it } from 'vitest'
import { testStore } from './helpers'

const PEER = 'c'.repeat(64)
const cleanups: (() => unknown)[] = []
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c()
})

describe('wishlist: what a download loop needs', () => {
  it('an expanding request grows page by page, keeps its cursor, and finishes only after the last page', async () => {
    const { store, dbPath, close } = await testStore()
    cleanups.push(close)
    const w = store.wishlist
    const changes: string[] = []
    w.addEventListener('change', ({ detail }) => changes.push(`${detail.id}:${detail.removed}`))
    const r = await w.add({ peer: PEER, path: 'films', expand: true, destination: '/d', id: 'r1' })
    expect(r).toMatchObject({ state: 'queued', files: 0, expanding: true })
    await w.appendFiles('r1', {
      files: [{ path: 'films/a', size: 3, mtime: 5 }],
      cursor: new Uint8Array([7]),
      done: false,
      dir: true,
    })
    const [a] = await w.claimMany({ peer: PEER, maxFiles: 5 })
    expect(a).toMatchObject({ path: 'films/a', state: 'active' })
    await w.complete('r1', 0)
    // Every file done, but the listing is not: not finished.
    expect(w.get('r1')).toMatchObject({ state: 'queued', filesDone: 1, expanding: true })
    expect([...(w.get('r1')?.cursor ?? [])]).toEqual([7])
    await expect(
      w.appendFiles('r1', { files: [{ path: 'other/x', size: 1 }], done: true }),
    ).rejects.toMatchObject({ code: 'BAD_REQUEST' })
    await w.appendFiles('r1', { files: [{ path: 'films/b', size: 4 }], done: true })
    expect(w.get('r1')).toMatchObject({ files: 2, size: 7, expanding: false })
    expect(w.get('r1')?.cursor).toBeUndefined()
    const b = await w.claim()
    expect(await w.claim()).toBeUndefined() // nothing else queued: claims never double
    await w.updateFile('r1', b!.index, { size: 10, mtime: 9 })
    expect(w.get('r1')).toMatchObject({ size: 13 })
    await w.completeMany([{ requestId: 'r1', index: 1 }])
    expect(w.get('r1')).toMatchObject({ state: 'done', bytesDone: 13 })
    expect(changes.length).toBeGreaterThanOrEqual(6)
    expect(changes.every((c) => c === 'r1:false')).toBe(true)
    await store.stop()
    // After a restart the row is as left.
    const again = await openIndexStore({ path: dbPath, scanThreads: 0 })
    expect(again.wishlist.get('r1')).toMatchObject({ state: 'done', files: 2 })
    await again.stop()
  })

  it('claimMany takes small files of one request up to the byte budget; release puts one back', async () => {
    const { store, close } = await testStore()
    cleanups.push(close)
    const w = store.wishlist
    const files = [100, 100, 5000, 100].map((size, i) => ({ path: `s/f${i}`, size }))
    await w.add({ peer: PEER, path: 's', dir: true, files, destination: '/d', id: 'r2' })
    const batch = await w.claimMany({ maxFiles: 10, maxBytes: 1000 })
    expect(batch.map((f) => f.index)).toEqual([0, 1])
    const big = await w.claimMany({ maxFiles: 10, maxBytes: 1000 })
    expect(big.map((f) => f.index)).toEqual([2]) // the first file is taken whatever its size
    await w.release('r2', 2)
    expect(w.get('r2')).toMatchObject({ state: 'active' })
    const next = await w.claimMany({ maxFiles: 10, maxBytes: 10_000 })
    expect(next.map((f) => f.index)).toEqual([2, 3])
  })

  it('claims start after the files claimed before; a released or excluded file is claimed again', async () => {
    const { store, close } = await testStore()
    cleanups.push(close)
    const w = store.wishlist
    const files = Array.from({ length: 40 }, (_, i) => ({ path: `s/f${i}`, size: 10 }))
    await w.add({ peer: PEER, path: 's', dir: true, files, destination: '/d', id: 'r4' })
    const first = await w.claimMany({ maxFiles: 10 })
    const skip = new Set(['r4/10', 'r4/11'])
    const second = await w.claimMany({ maxFiles: 10, exclude: skip })
    expect(first.map((f) => f.index)).toEqual([0, 1, 2, 3, 4, 5, 6, 7, 8, 9])
    expect(second.map((f) => f.index)).toEqual([12, 13, 14, 15, 16, 17, 18, 19, 20, 21])
    // Files skipped by `exclude` are still found, then the ones after the last claim.
    expect((await w.claimMany({ maxFiles: 3 })).map((f) => f.index)).toEqual([10, 11, 22])
    await w.release('r4', 4)
    await w.release('r4', 15)
    expect((await w.claimMany({ maxFiles: 4 })).map((f) => f.index)).toEqual([4, 15, 23, 24])
    expect((await w.claimMany({ maxFiles: 100 })).map((f) => f.index)).toEqual(
      Array.from({ length: 15 }, (_, i) => 25 + i),
    )
    expect(await w.claimMany({ maxFiles: 10 })).toEqual([])
  })

  it('a listing that finds nothing ends the request failed with its code; resume lists again', async () => {
    const { store, dbPath, close } = await testStore()
    cleanups.push(close)
    const w = store.wishlist
    await w.add({ peer: PEER, path: 'gone', expand: true, destination: '/d', id: 'r3' })
    const failure = { code: 'NOT_FOUND', reason: 'the peer has no gone' }
    await w.appendFiles('r3', { files: [], done: true, failure })
    expect(w.get('r3')).toMatchObject({ state: 'failed', files: 0, ...failure })
    expect(w.get('r3')?.finishedAt).toBeTypeOf('number')
    await store.stop()
    const again = await openIndexStore({ path: dbPath, scanThreads: 0 })
    expect(again.wishlist.get('r3')).toMatchObject({ state: 'failed', code: 'NOT_FOUND' })
    const resumed = await again.wishlist.resume('r3')
    expect(resumed).toMatchObject({ state: 'queued', expanding: true })
    expect(resumed.code).toBeUndefined()
    await again.wishlist.appendFiles('r3', {
      files: [{ path: 'gone/a', size: 1 }],
      done: true,
      dir: true,
    })
    expect(again.wishlist.get('r3')).toMatchObject({ state: 'queued', files: 1 })
    await again.stop()
  })
})
