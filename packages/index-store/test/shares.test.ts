import { mkdirSync, symlinkSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { afterEach, describe, expect, it } from 'vitest'
import { collect, makeTree, paths, tempDir, testStore } from './helpers'

const cleanups: (() => unknown)[] = []
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c()
})

async function setup() {
  const s = await testStore()
  cleanups.push(s.close)
  const base = tempDir('hdp-shares-')
  cleanups.push(base.cleanup)
  return { ...s, base: base.path }
}

describe('shares', () => {
  it('names shares after their directory, made unique on a clash', async () => {
    const { store, base } = await setup()
    for (const d of ['one/music', 'two/music', 'three/music', 'music-2'])
      mkdirSync(join(base, d), { recursive: true })
    const a = await store.shares.add(join(base, 'one/music'))
    const b = await store.shares.add(join(base, 'two/music'))
    const c = await store.shares.add(join(base, 'music-2'))
    const d = await store.shares.add(join(base, 'three/music'))
    expect([a.name, b.name, c.name, d.name]).toEqual(['music', 'music-2', 'music-2-2', 'music-3'])
    expect(store.shares.list().map((s) => s.name)).toEqual([
      'music',
      'music-2',
      'music-2-2',
      'music-3',
    ])
    expect(await paths(store.ls(''))).toEqual(['music', 'music-2', 'music-2-2', 'music-3'])
  })

  it('removes exactly one share: music goes, music2 and its entries stay', async () => {
    const { store, base } = await setup()
    makeTree(base, { 'music/a/1.flac': 10, 'music2/a/2.flac': 20, 'musicals/3.flac': 30 })
    await store.shares.add(join(base, 'music'))
    await store.shares.add(join(base, 'music2'))
    await store.shares.add(join(base, 'musicals'))
    await store.rescan()
    expect(store.totals()).toEqual({ files: 3, bytes: 60 })
    expect(await store.shares.remove('music')).toBe(true)
    expect(await store.shares.remove('music')).toBe(false)
    expect(store.totals()).toEqual({ files: 2, bytes: 50 })
    expect(await paths(store.ls('', { recursive: true }))).toEqual([
      'music2',
      'music2/a',
      'music2/a/2.flac',
      'musicals',
      'musicals/3.flac',
    ])
    await expect(collect(store.ls('music'))).rejects.toMatchObject({ code: 'NOT_FOUND' })
    expect((await paths(store.search('flac'))).sort()).toEqual([
      'music2/a/2.flac',
      'musicals/3.flac',
    ])
  })

  it('survives a restart', async () => {
    const { store, dbPath, base } = await setup()
    makeTree(base, { 'films/f.mkv': 7 })
    await store.shares.add(join(base, 'films'))
    await store.rescan()
    await store.stop()
    await store.start()
    expect(store.shares.list()).toMatchObject([
      { name: 'films', root: join(base, 'films'), files: 1, bytes: 7 },
    ])
    expect(await paths(store.search('mkv'))).toEqual(['films/f.mkv'])
    expect(dbPath).toBeTruthy()
  })

  it('refuses what cannot be shared, with typed errors', async () => {
    const { store, base } = await setup()
    makeTree(base, { 'media/sub/x': 1, 'file.txt': 1 })
    await store.shares.add(join(base, 'media'))
    await expect(store.shares.add(join(base, 'media'))).rejects.toMatchObject({
      code: 'SHARE_OVERLAP',
    })
    await expect(store.shares.add(join(base, 'media/sub'))).rejects.toMatchObject({
      code: 'SHARE_OVERLAP',
    })
    await expect(store.shares.add(base)).rejects.toMatchObject({ code: 'SHARE_OVERLAP' })
    symlinkSync(join(base, 'media'), join(base, 'media-link'))
    await expect(store.shares.add(join(base, 'media-link'))).rejects.toMatchObject({
      code: 'SHARE_OVERLAP',
    })
    await expect(store.shares.add(join(base, 'missing'))).rejects.toMatchObject({
      code: 'BAD_SHARE_DIR',
    })
    await expect(store.shares.add(join(base, 'file.txt'))).rejects.toMatchObject({
      code: 'BAD_SHARE_DIR',
    })
    await expect(store.shares.add('')).rejects.toMatchObject({ code: 'BAD_SHARE_DIR' })
    await expect(store.rescan({ share: 'nope' })).rejects.toMatchObject({ code: 'UNKNOWN_SHARE' })
  })

  it('turns an awkward directory name into a valid share name', async () => {
    const { store, base } = await setup()
    const odd = join(base, 'back\\slash\nname')
    mkdirSync(odd)
    writeFileSync(join(odd, 'x'), 'x')
    const share = await store.shares.add(odd)
    expect(share.name).toBe('back_slash_name')
    await store.rescan()
    expect(await paths(store.ls(share.name))).toEqual(['back_slash_name/x'])
  })

  it('stops a running scan of a share being removed, and leaves nothing of it behind', async () => {
    const { store, base } = await setup()
    const files: Record<string, number> = {}
    for (let i = 0; i < 300; i++) files[`big/d${i}/f`] = 1
    makeTree(base, { ...files, 'small/x': 1 })
    await store.shares.add(join(base, 'big'))
    await store.shares.add(join(base, 'small'))
    let removal: Promise<boolean> | undefined
    const scan = store.rescan({
      onProgress: (e) => {
        if (e.share === 'big' && removal === undefined) removal = store.shares.remove('big')
      },
    })
    const summary = await scan
    expect(await removal).toBe(true)
    expect(summary.shares.map((s) => s.share)).toEqual(['small'])
    expect(await paths(store.ls('', { recursive: true }))).toEqual(['small', 'small/x'])
    expect(await paths(store.search('f'))).toEqual([])
    expect(store.totals()).toEqual({ files: 1, bytes: 1 })
  })
})
