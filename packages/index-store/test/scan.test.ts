import { execFileSync, spawn } from 'node:child_process'
import {
  mkdirSync,
  readdirSync,
  renameSync,
  rmSync,
  statSync,
  symlinkSync,
  truncateSync,
  writeFileSync,
} from 'node:fs'
import { join } from 'node:path'
import type { IndexStore } from '@harddrive-party/index-store'
import { afterEach, describe, expect, it } from 'vitest'
import { agePaths, collect, makeTree, paths, tempDir, testStore } from './helpers'

const cleanups: (() => unknown)[] = []
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c()
})

async function setup(options: Parameters<typeof testStore>[0] = {}) {
  const s = await testStore(options)
  cleanups.push(s.close)
  const dir = tempDir('hdp-share-')
  cleanups.push(dir.cleanup)
  return { ...s, root: dir.path }
}

/** Every directory under `root` (including it). */
function allDirs(root: string): string[] {
  const out = [root]
  for (const e of readdirSync(root, { withFileTypes: true })) {
    if (e.isDirectory() && !e.isSymbolicLink()) out.push(...allDirs(join(root, e.name)))
  }
  return out
}

async function dirEntry(store: IndexStore, path: string) {
  const parent = path.includes('/') ? path.slice(0, path.lastIndexOf('/')) : ''
  const entries = await collect(store.ls(parent))
  return entries.find((e) => e.path === path)
}

describe('scan', () => {
  it('indexes names, sizes and mtimes with totals for every ancestor, share root and global root', async () => {
    const { store, root } = await setup()
    makeTree(root, {
      'a/b/c/one.bin': 100,
      'a/b/two.bin': 20,
      'a/three.bin': 3,
      'four.bin': 4000,
      'empty-dir/.keep': 0,
    })
    const share = await store.shares.add(root)
    const summary = await store.rescan()
    expect(summary.shares[0]).toMatchObject({
      share: share.name,
      files: 5,
      bytes: 4123,
      skipped: 0,
    })
    expect(store.totals()).toEqual({ files: 5, bytes: 4123 })
    expect(await dirEntry(store, share.name)).toMatchObject({ dir: true, size: 4123, files: 5 })
    expect(await dirEntry(store, `${share.name}/a`)).toMatchObject({ size: 123, files: 3 })
    expect(await dirEntry(store, `${share.name}/a/b`)).toMatchObject({ size: 120, files: 2 })
    expect(await dirEntry(store, `${share.name}/a/b/c`)).toMatchObject({ size: 100, files: 1 })
    const file = await dirEntry(store, `${share.name}/a/b/c/one.bin`)
    expect(file).toEqual({
      path: `${share.name}/a/b/c/one.bin`,
      size: 100,
      dir: false,
      mtime: Math.floor(statSync(join(root, 'a/b/c/one.bin')).mtimeMs),
    })
    expect(store.shares.get(share.name)).toMatchObject({ files: 5, bytes: 4123 })
  })

  it('skips NAS clutter by default and user globs, case-insensitively for the defaults', async () => {
    const { store, root } = await setup({ ignore: ['*.tmp', 'private/**'] })
    makeTree(root, {
      'keep.txt': 1,
      '@eaDir/thumb.jpg': 1,
      'music/@eaDir/x': 1,
      '#recycle/old.txt': 1,
      '#snapshot/s.txt': 1,
      '.DS_Store': 1,
      'music/thumbs.db': 1,
      'music/Desktop.ini': 1,
      '.Trash-1000/files/x': 1,
      'music/song.tmp': 1,
      'music/song.flac': 1,
      'private/secret.txt': 1,
      'music/private.txt': 1,
    })
    const share = await store.shares.add(root)
    const summary = await store.rescan()
    const listed = await paths(store.ls(share.name, { recursive: true }))
    const n = share.name
    expect(listed).toEqual([
      `${n}/keep.txt`,
      `${n}/music`,
      `${n}/music/private.txt`,
      `${n}/music/song.flac`,
    ])
    expect(summary.shares[0]?.ignored).toBe(10)
  })

  it('never indexes a symlink leading out of the share; follows one to a file inside; skips dir links', async () => {
    const { store, root } = await setup()
    const outside = tempDir('hdp-outside-')
    cleanups.push(outside.cleanup)
    makeTree(outside.path, { 'secret.txt': 'secret' })
    makeTree(root, { 'real/inside.txt': 'hello', 'plain.txt': 'x' })
    symlinkSync('/etc', join(root, 'etc-link'))
    symlinkSync('/etc/passwd', join(root, 'passwd-link'))
    symlinkSync(join(outside.path, 'secret.txt'), join(root, 'sibling-link'))
    symlinkSync('../real/inside.txt', join(root, 'real', 'self-link.txt'))
    symlinkSync(join(root, 'real'), join(root, 'dir-link'))
    symlinkSync(join(root, 'nowhere'), join(root, 'broken-link'))
    const share = await store.shares.add(root)
    const summary = await store.rescan()
    const n = share.name
    expect(await paths(store.ls(n, { recursive: true }))).toEqual([
      `${n}/plain.txt`,
      `${n}/real`,
      `${n}/real/inside.txt`,
      `${n}/real/self-link.txt`,
    ])
    const link = await dirEntry(store, `${n}/real/self-link.txt`)
    expect(link?.size).toBe(5)
    expect(summary.shares[0]?.skipped).toBe(5)
    expect(await paths(store.search('passwd'))).toEqual([])
    expect(await paths(store.search('secret'))).toEqual([])
  })

  it('logs and skips names that are not UTF-8, unsafe names and special files, and carries on', async () => {
    const { store, root } = await setup()
    makeTree(root, { 'ok.txt': 'fine', 'sub/also-ok.txt': 'x' })
    const bad = Buffer.concat([
      Buffer.from(`${root}/bad-`),
      Buffer.from([0xff, 0xfe, 0x41]),
      Buffer.from('.txt'),
    ])
    writeFileSync(bad, 'not utf-8')
    writeFileSync(join(root, 'real-\uFFFD-char.txt'), 'a genuine U+FFFD is valid UTF-8')
    writeFileSync(join(root, 'new\nline.txt'), 'x')
    writeFileSync(join(root, 'back\\slash.txt'), 'x')
    execFileSync('mkfifo', [join(root, 'a-fifo')])
    const share = await store.shares.add(root)
    const summary = await store.rescan()
    const n = share.name
    expect(await paths(store.ls(n, { recursive: true }))).toEqual([
      `${n}/ok.txt`,
      `${n}/real-\uFFFD-char.txt`,
      `${n}/sub`,
      `${n}/sub/also-ok.txt`,
    ])
    expect(summary.shares[0]).toMatchObject({ files: 3, skipped: 4 })
  })

  it('rescans incrementally: unchanged directories are not read again', async () => {
    const { store, root } = await setup()
    const files: Record<string, number> = {}
    for (let a = 0; a < 5; a++) for (let b = 0; b < 4; b++) files[`a${a}/b${b}/f.bin`] = a + b
    makeTree(root, files)
    agePaths(allDirs(root))
    const share = await store.shares.add(root)
    const first = await store.rescan()
    expect(first.shares[0]).toMatchObject({ listed: 26, unchanged: 0, files: 20 })
    const second = await store.rescan()
    // Every directory's mtime predates its listing: only subdirectories are stat'ed.
    expect(second.shares[0]).toMatchObject({ listed: 0, unchanged: 26, changed: 0, files: 20 })

    // A new file changes its directory's mtime: only that directory is read again.
    writeFileSync(join(root, 'a2/b1/new.bin'), Buffer.alloc(7))
    const third = await store.rescan()
    expect(third.shares[0]).toMatchObject({ listed: 1, unchanged: 25, changed: 1, files: 21 })
    expect(await dirEntry(store, `${share.name}/a2`)).toMatchObject({
      files: 5,
      size: 2 + 3 + 4 + 5 + 7,
    })

    // A removed directory disappears with everything below it.
    rmSync(join(root, 'a4'), { recursive: true })
    const fourth = await store.rescan()
    expect(fourth.shares[0]).toMatchObject({ removed: 5, files: 17 })
    expect(await dirEntry(store, `${share.name}/a4`)).toBeUndefined()
  })

  it('misses an in-place size change of an unchanged directory until a full rescan', async () => {
    const { store, root } = await setup()
    makeTree(root, { 'd/f.bin': 10 })
    agePaths([join(root, 'd'), root])
    const share = await store.shares.add(root)
    await store.rescan()
    truncateSync(join(root, 'd/f.bin'), 999)
    agePaths([join(root, 'd')])
    await store.rescan()
    expect((await dirEntry(store, `${share.name}/d/f.bin`))?.size).toBe(10)
    const full = await store.rescan({ full: true })
    expect(full.shares[0]).toMatchObject({ listed: 2, bytes: 999 })
    expect((await dirEntry(store, `${share.name}/d/f.bin`))?.size).toBe(999)
  })

  it('lists again a directory whose mtime is too close to its last listing to be trusted', async () => {
    const { store, root } = await setup()
    makeTree(root, { 'f.bin': 1 })
    await store.shares.add(root)
    await store.rescan()
    // mtime within a few seconds of the listing: a same-tick change could hide behind it.
    const again = await store.rescan()
    expect(again.shares[0]).toMatchObject({ listed: 1, unchanged: 0 })
  })

  it('keeps the index of a share whose root vanished (an unmounted disk), and reports it', async () => {
    const { store, root } = await setup()
    makeTree(root, { 'x/y.bin': 5 })
    const share = await store.shares.add(root)
    await store.rescan()
    renameSync(root, `${root}-gone`)
    cleanups.push(() => rmSync(`${root}-gone`, { recursive: true, force: true }))
    const summary = await store.rescan()
    expect(summary.shares[0]?.error).toMatch(/ENOENT/)
    expect(store.totals()).toEqual({ files: 1, bytes: 5 })
    renameSync(`${root}-gone`, root)
    await store.rescan()
    expect(await paths(store.ls(share.name, { recursive: true }))).toEqual([
      `${share.name}/x`,
      `${share.name}/x/y.bin`,
    ])
  })

  it('gives the same index with worker threads as on the main thread', async () => {
    const dir = tempDir('hdp-share-')
    cleanups.push(dir.cleanup)
    const files: Record<string, number> = {}
    for (let i = 0; i < 300; i++) files[`d${i % 17}/e${i % 5}/f${i}.bin`] = i
    makeTree(dir.path, files)
    const results: unknown[] = []
    for (const scanThreads of [0, 2]) {
      const { store, close } = await testStore({ scanThreads })
      cleanups.push(close)
      const share = await store.shares.add(dir.path)
      const summary = await store.rescan()
      expect(summary.shares[0]).toMatchObject({ files: 300, listed: 1 + 17 + 85 })
      results.push(await collect(store.ls(share.name, { recursive: true })))
    }
    expect(results[1]).toEqual(results[0])
  })

  it('reports progress and can be aborted', async () => {
    const { store, root } = await setup()
    const files: Record<string, number> = {}
    for (let i = 0; i < 400; i++) files[`d${i}/f.bin`] = 1
    makeTree(root, files)
    await store.shares.add(root)
    const events: { dirs: number; done: boolean }[] = []
    await store.rescan({ onProgress: (e) => events.push(e) })
    expect(events.at(-1)).toMatchObject({ done: true, dirs: 401, files: 400 })
    const controller = new AbortController()
    controller.abort()
    await expect(store.rescan({ signal: controller.signal, full: true })).rejects.toMatchObject({
      name: 'AbortError',
    })
    const mid = new AbortController()
    const scan = store.rescan({ signal: mid.signal, full: true, onProgress: () => mid.abort() })
    await expect(scan).rejects.toMatchObject({ name: 'AbortError' })
    // An aborted scan leaves a consistent index that the next scan completes.
    const after = await store.rescan({ full: true })
    expect(after.shares[0]).toMatchObject({ files: 400, dirs: 401 })
  })

  it('never aborts while the tree changes under it (files and directories vanishing mid-scan)', async () => {
    const { store, root } = await setup({ scanThreads: 2 })
    const files: Record<string, number> = {}
    for (let i = 0; i < 60; i++) for (let j = 0; j < 20; j++) files[`stable/d${i}/f${j}`] = 1
    makeTree(root, files)
    mkdirSync(join(root, 'churn'))
    const share = await store.shares.add(root)
    // A separate process creates and deletes files and whole directories as fast as it can.
    const churn = startChurn(root)
    cleanups.push(() => churn.kill('SIGKILL'))
    for (let round = 0; round < 4; round++) {
      const summary = await store.rescan({ full: true })
      const s = summary.shares[0]
      expect(s?.error).toBeUndefined()
      // The stable part is always complete; the churning part is whatever existed.
      const stable = await collect(store.ls(`${share.name}/stable`, { recursive: true }))
      expect(stable.filter((e) => !e.dir)).toHaveLength(1200)
      const root = await dirEntry(store, share.name)
      const top = await collect(store.ls(share.name))
      expect(root?.files).toBe(top.reduce((n, e) => n + (e.dir ? (e.files ?? 0) : 1), 0))
    }
    churn.kill('SIGKILL')
  })
})

function startChurn(root: string) {
  const script = `
    const fs = require('node:fs')
    const base = ${JSON.stringify(join(root, 'churn'))}
    for (let i = 0; ; i++) {
      const d = base + '/d' + (i % 50)
      try { fs.mkdirSync(d + '/sub', { recursive: true }); fs.writeFileSync(d + '/sub/f' + (i % 7), 'x') } catch {}
      try { if (i % 3 === 0) fs.rmSync(base + '/d' + ((i * 7) % 50), { recursive: true, force: true }) } catch {}
    }`
  return spawn(process.execPath, ['-e', script], { stdio: 'ignore' })
}
