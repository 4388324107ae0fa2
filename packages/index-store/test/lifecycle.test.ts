import { join } from 'node:path'
import { IndexStore, IndexStoreError, openIndexStore } from '@harddrive-party/index-store'
import { isHdpError } from '@harddrive-party/wire-protocol'
import { afterEach, describe, expect, it } from 'vitest'
import { makeTree, tempDir } from './helpers'

const cleanups: (() => unknown)[] = []
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c()
})

describe('lifecycle', () => {
  it('does no I/O in the constructor; start and stop are idempotent; calls need a started store', async () => {
    const db = tempDir()
    cleanups.push(db.cleanup)
    const path = join(db.path, 'not-yet')
    const store = new IndexStore({ path, scanThreads: 0 })
    await expect(import('node:fs').then((fs) => fs.promises.access(path))).rejects.toMatchObject({
      code: 'ENOENT',
    })
    expect(() => store.ls('')).toThrow(expect.objectContaining({ code: 'NOT_STARTED' }))
    await store.stop()
    await Promise.all([store.start(), store.start()])
    expect(store.state).toBe('started')
    await store.start()
    await Promise.all([store.stop(), store.stop()])
    expect(store.state).toBe('stopped')
    expect(() => store.wishlist).toThrow(expect.objectContaining({ code: 'NOT_STARTED' }))
    await store.start()
    await store.close()
  })

  it('releases the store with await using', async () => {
    const db = tempDir()
    cleanups.push(db.cleanup)
    let escaped: IndexStore
    {
      await using store = await openIndexStore({ path: db.path, scanThreads: 0 })
      escaped = store
      expect(store.state).toBe('started')
    }
    expect(escaped.state).toBe('stopped')
  })

  it('stop waits for a running scan, which ends with an AbortError', async () => {
    const db = tempDir()
    const share = tempDir()
    cleanups.push(db.cleanup, share.cleanup)
    const files: Record<string, number> = {}
    for (let i = 0; i < 500; i++) files[`d${i}/f`] = 1
    makeTree(share.path, files)
    const store = await openIndexStore({ path: db.path, scanThreads: 0 })
    await store.shares.add(share.path)
    const scan = store.rescan()
    const stopped = store.stop()
    await expect(scan).rejects.toMatchObject({ name: 'AbortError' })
    await stopped
    expect(store.state).toBe('stopped')
  })

  it('announces a scan that changed the index, and an added or removed share', async () => {
    const db = tempDir()
    const share = tempDir()
    cleanups.push(db.cleanup, share.cleanup)
    makeTree(share.path, { 'a/b': 3 })
    const store = await openIndexStore({ path: db.path, scanThreads: 0 })
    cleanups.push(() => store.stop())
    const events: unknown[] = []
    store.addEventListener('change', (e) => events.push(e.detail))
    const added = await store.shares.add(share.path)
    expect(events).toEqual([{ files: 0, bytes: 0 }])
    await store.rescan()
    expect(events).toEqual([
      { files: 0, bytes: 0 },
      { files: 1, bytes: 3 },
    ])
    await store.rescan()
    expect(events).toHaveLength(2) // nothing changed on disk
    await store.shares.remove(added.name)
    expect(events.at(-1)).toEqual({ files: 0, bytes: 0 })
    expect(await store.shares.remove(added.name)).toBe(false)
    expect(events).toHaveLength(3)
  })

  it('validates options with typed errors', () => {
    const bad = (o: unknown) => {
      try {
        new IndexStore(o as ConstructorParameters<typeof IndexStore>[0])
      } catch (err) {
        expect(isHdpError(err)).toBe(true)
        expect(err).toBeInstanceOf(IndexStoreError)
        return (err as IndexStoreError).code
      }
      return 'accepted'
    }
    expect(bad({})).toBe('INVALID_OPTIONS')
    expect(bad({ path: '/tmp/x', scanThreads: -1 })).toBe('INVALID_OPTIONS')
    expect(bad({ path: '/tmp/x', ignore: ['ok', ''] })).toBe('INVALID_OPTIONS')
    expect(bad({ path: '/tmp/x', progressFlushMs: Number.NaN })).toBe('INVALID_OPTIONS')
    expect(bad({ path: '/tmp/x', ignore: ['*.tmp'] })).toBe('accepted')
  })
})
