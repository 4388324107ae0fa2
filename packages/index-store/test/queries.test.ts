import { rmSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import type { EntryStream, IndexStore } from '@harddrive-party/index-store'
import type { Entry } from '@harddrive-party/wire-protocol'
import { limits } from '@harddrive-party/wire-protocol'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { collect, makeTree, paths, tempDir, testStore } from './helpers'

let store: IndexStore
let root: string
const cleanups: (() => unknown)[] = []

beforeAll(async () => {
  const s = await testStore()
  store = s.store
  cleanups.push(s.close)
  const dir = tempDir('hdp-q-')
  cleanups.push(dir.cleanup)
  root = join(dir.path, 'lib')
  makeTree(root, {
    'Beatles/Abbey Road/01 Come Together.flac': 100,
    'Beatles/Abbey Road/02 Something.flac': 200,
    'Beatles/Help!/01 Help!.flac': 50,
    'Beyoncé/Lemonade/01 Pray You Catch Me.mp3': 10,
    'Björk/Homogenic/01 Hunter.mp3': 11,
    'a.txt': 1,
    'B.txt': 2,
    'b.txt': 3,
    'é.txt': 4,
    'z/deep/er/est.txt': 5,
  })
  const big: Record<string, number> = {}
  for (let i = 0; i < 1200; i++) big[`big/f${String(i).padStart(4, '0')}.bin`] = i
  makeTree(root, big)
  await store.shares.add(root)
  await store.rescan()
})

afterAll(async () => {
  for (const c of cleanups.splice(0).reverse()) await c()
})

/** Pages through a stream factory with a page size, following cursors. */
async function pageAll(
  make: (cursor?: Uint8Array) => EntryStream,
  max = 10_000,
): Promise<{ entries: Entry[]; pages: number }> {
  const entries: Entry[] = []
  let cursor: Uint8Array | undefined
  let pages = 0
  do {
    const page = await make(cursor).page()
    entries.push(...page.entries)
    cursor = page.cursor
    pages++
    if (cursor !== undefined) expect(cursor.length).toBeLessThanOrEqual(limits.MAX_CURSOR_BYTES)
  } while (cursor !== undefined && pages < max)
  return { entries, pages }
}

describe('ls', () => {
  it('lists the shares at the root and a directory in byte order of names (stable)', async () => {
    expect(await collect(store.ls(''))).toEqual([
      {
        path: 'lib',
        dir: true,
        size: (1200 * 1199) / 2 + 386,
        files: 1210,
        mtime: expect.any(Number),
      },
    ])
    expect(await paths(store.ls('lib'))).toEqual([
      'lib/B.txt',
      'lib/Beatles',
      'lib/Beyoncé',
      'lib/Björk',
      'lib/a.txt',
      'lib/b.txt',
      'lib/big',
      'lib/z',
      'lib/é.txt',
    ])
    expect(await paths(store.ls('lib'))).toEqual(await paths(store.ls('lib')))
  })

  it('lists recursively depth-first, parents before their children', async () => {
    const all = await paths(store.ls('lib/Beatles', { recursive: true }))
    expect(all).toEqual([
      'lib/Beatles/Abbey Road',
      'lib/Beatles/Abbey Road/01 Come Together.flac',
      'lib/Beatles/Abbey Road/02 Something.flac',
      'lib/Beatles/Help!',
      'lib/Beatles/Help!/01 Help!.flac',
    ])
    const everything = await paths(store.ls('', { recursive: true }))
    expect(everything).toHaveLength(1 + 1210 + 11)
    expect(everything.slice(0, 3)).toEqual(['lib', 'lib/B.txt', 'lib/Beatles'])
  })

  it('gives a file as a listing of itself', async () => {
    expect(await collect(store.ls('lib/z/deep/er/est.txt'))).toEqual([
      { path: 'lib/z/deep/er/est.txt', size: 5, dir: false, mtime: expect.any(Number) },
    ])
  })

  it('pages with limit and cursor to exactly the unpaged listing, flat and recursive', async () => {
    for (const recursive of [false, true]) {
      for (const path of ['', 'lib', 'lib/big']) {
        const whole = await paths(store.ls(path, { recursive }))
        for (const limit of [1, 7, 1000]) {
          const { entries, pages } = await pageAll((cursor) =>
            store.ls(path, { recursive, limit, ...(cursor === undefined ? {} : { cursor }) }),
          )
          expect(entries.map((e) => e.path)).toEqual(whole)
          expect(pages).toBe(Math.max(1, Math.ceil(whole.length / limit)))
        }
      }
    }
  })

  it('gives no cursor when everything was returned, and one when the consumer stopped early', async () => {
    const all = store.ls('lib/Beatles')
    await collect(all)
    expect(all.cursor).toBeUndefined()
    const exact = await store.ls('lib/Beatles', { limit: 2 }).page()
    expect(exact.cursor).toBeUndefined()
    const partial = store.ls('lib/big')
    for await (const e of partial) if (e.path.endsWith('f0009.bin')) break
    const rest = await paths(
      store.ls('lib/big', { cursor: partial.cursor as Uint8Array, limit: 2 }),
    )
    expect(rest).toEqual(['lib/big/f0010.bin', 'lib/big/f0011.bin'])
  })

  it('continues right after the last entry even when it was deleted meanwhile', async () => {
    const dir = tempDir('hdp-q2-')
    const { store: s, close } = await testStore()
    try {
      makeTree(dir.path, { 'a/1': 1, 'a/2': 1, 'a/3/x': 1, 'a/3/y': 1, 'a/4': 1, 'b/5': 1 })
      const share = await s.shares.add(dir.path)
      await s.rescan()
      const n = share.name
      const first = await s.ls(n, { recursive: true, limit: 5 }).page()
      expect(first.entries.map((e) => e.path)).toEqual([
        `${n}/a`,
        `${n}/a/1`,
        `${n}/a/2`,
        `${n}/a/3`,
        `${n}/a/3/x`,
      ])
      // The directory the cursor points into disappears, and a file appears before the cursor.
      rmSync(join(dir.path, 'a/3'), { recursive: true })
      writeFileSync(join(dir.path, 'a/0'), 'x')
      await s.rescan({ full: true })
      const rest = await paths(s.ls(n, { recursive: true, cursor: first.cursor as Uint8Array }))
      expect(rest).toEqual([`${n}/a/4`, `${n}/b`, `${n}/b/5`])
    } finally {
      await close()
      dir.cleanup()
    }
  })

  it('refuses bad paths, unknown paths, foreign cursors and bad limits with typed errors', async () => {
    await expect(collect(store.ls('../etc'))).rejects.toMatchObject({
      code: 'BAD_PATH',
      name: 'IndexStoreError',
    })
    await expect(collect(store.ls('/lib'))).rejects.toMatchObject({ code: 'BAD_PATH' })
    await expect(collect(store.ls('lib//big'))).rejects.toMatchObject({ code: 'BAD_PATH' })
    await expect(collect(store.ls('lib/nope'))).rejects.toMatchObject({ code: 'NOT_FOUND' })
    await expect(collect(store.ls('nope'))).rejects.toMatchObject({ code: 'NOT_FOUND' })
    await expect(collect(store.ls('lib/a.txt/x'))).rejects.toMatchObject({ code: 'NOT_FOUND' })
    const { cursor } = await store.ls('lib/big', { limit: 3 }).page()
    await expect(collect(store.ls('lib', { cursor: cursor as Uint8Array }))).rejects.toMatchObject({
      code: 'BAD_CURSOR',
    })
    await expect(
      collect(store.ls('lib/big', { recursive: true, cursor: cursor as Uint8Array })),
    ).rejects.toMatchObject({
      code: 'BAD_CURSOR',
    })
    await expect(collect(store.ls('lib', { cursor: new Uint8Array(9000) }))).rejects.toMatchObject({
      code: 'BAD_CURSOR',
    })
    await expect(
      collect(store.ls('lib', { cursor: new Uint8Array([1, 2, 3]) })),
    ).rejects.toMatchObject({ code: 'BAD_CURSOR' })
    const forged = Uint8Array.from(cursor as Uint8Array)
    forged.set(Buffer.from('../x'), 8)
    await expect(collect(store.ls('lib/big', { cursor: forged }))).rejects.toMatchObject({
      code: 'BAD_CURSOR',
    })
    await expect(collect(store.ls('lib', { limit: 0 }))).rejects.toMatchObject({
      code: 'BAD_QUERY',
    })
    await expect(collect(store.ls('lib', { limit: 1.5 }))).rejects.toMatchObject({
      code: 'BAD_QUERY',
    })
  })

  it('honours an abort signal', async () => {
    const controller = new AbortController()
    const stream = store.ls('lib/big', { signal: controller.signal })
    let n = 0
    await expect(
      (async () => {
        for await (const _ of stream) if (++n === 10) controller.abort()
      })(),
    ).rejects.toMatchObject({ name: 'AbortError' })
    expect(n).toBe(10)
  })
})

describe('search', () => {
  it('matches substrings of names, ignoring case and accents; every word must appear', async () => {
    expect((await paths(store.search('ABBEY'))).sort()).toEqual(['lib/Beatles/Abbey Road'])
    expect((await paths(store.search('come toGETHER'))).sort()).toEqual([
      'lib/Beatles/Abbey Road/01 Come Together.flac',
    ])
    expect((await paths(store.search('together come'))).sort()).toEqual([
      'lib/Beatles/Abbey Road/01 Come Together.flac',
    ])
    expect((await paths(store.search('beyonce'))).sort()).toEqual(['lib/Beyoncé'])
    expect((await paths(store.search('BJORK'))).sort()).toEqual(['lib/Björk'])
    expect((await paths(store.search('e\u0301.txt'))).sort()).toEqual(['lib/é.txt'])
    expect((await paths(store.search('help!'))).sort()).toEqual([
      'lib/Beatles/Help!',
      'lib/Beatles/Help!/01 Help!.flac',
    ])
    expect((await paths(store.search('b.txt'))).sort()).toEqual(['lib/B.txt', 'lib/b.txt'])
    expect(await paths(store.search('nothing-like-this'))).toEqual([])
    // Names, not paths: a word from a parent directory does not make its children match.
    expect(await paths(store.search('beatles something'))).toEqual([])
  })

  it('returns entries with sizes and totals', async () => {
    const [album] = await collect(store.search('abbey road'))
    expect(album).toEqual({
      path: 'lib/Beatles/Abbey Road',
      size: 300,
      dir: true,
      files: 2,
      mtime: expect.any(Number),
    })
  })

  it('scopes to a path', async () => {
    expect((await paths(store.search('01', { path: 'lib/Beatles' }))).sort()).toEqual([
      'lib/Beatles/Abbey Road/01 Come Together.flac',
      'lib/Beatles/Help!/01 Help!.flac',
    ])
    expect(await paths(store.search('01', { path: 'lib/z' }))).toEqual([])
    await expect(collect(store.search('01', { path: 'lib/nope' }))).rejects.toMatchObject({
      code: 'NOT_FOUND',
    })
  })

  it('pages with limit and cursor in a stable order', async () => {
    const whole = await paths(store.search('f0'))
    expect(whole).toHaveLength(1000)
    expect(await paths(store.search('f0'))).toEqual(whole)
    for (const limit of [1, 33, 999]) {
      const { entries } = await pageAll((cursor) =>
        store.search('f0', { limit, ...(cursor === undefined ? {} : { cursor }) }),
      )
      expect(entries.map((e) => e.path)).toEqual(whole)
    }
  })

  it('refuses bad terms and foreign cursors', async () => {
    await expect(collect(store.search(''))).rejects.toMatchObject({ code: 'BAD_QUERY' })
    await expect(collect(store.search('   '))).rejects.toMatchObject({ code: 'BAD_QUERY' })
    await expect(collect(store.search('a\u0000b'))).rejects.toMatchObject({ code: 'BAD_QUERY' })
    await expect(
      collect(store.search('x'.repeat(limits.MAX_SEARCH_BYTES + 1))),
    ).rejects.toMatchObject({ code: 'BAD_QUERY' })
    const { cursor } = await store.search('f0', { limit: 2 }).page()
    await expect(
      collect(store.search('f1', { cursor: cursor as Uint8Array })),
    ).rejects.toMatchObject({ code: 'BAD_CURSOR' })
    await expect(collect(store.ls('lib', { cursor: cursor as Uint8Array }))).rejects.toMatchObject({
      code: 'BAD_CURSOR',
    })
  })
})
