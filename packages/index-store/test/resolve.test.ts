import { execFileSync } from 'node:child_process'
import {
  mkdirSync,
  realpathSync,
  renameSync,
  rmSync,
  symlinkSync,
  unlinkSync,
  writeFileSync,
} from 'node:fs'
import { join } from 'node:path'
import { afterEach, describe, expect, it } from 'vitest'
import { makeTree, tempDir, testStore } from './helpers'

const cleanups: (() => unknown)[] = []
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c()
})

async function setup() {
  const s = await testStore()
  cleanups.push(s.close)
  const dir = tempDir('hdp-resolve-')
  cleanups.push(dir.cleanup)
  const root = join(dir.path, 'share')
  const outside = join(dir.path, 'outside')
  makeTree(root, {
    'music/song.flac': 'la la la',
    'docs/readme.txt': 'read me',
    '.DS_Store': 'junk',
  })
  makeTree(outside, { 'secret.txt': 'top secret' })
  const share = await s.store.shares.add(root)
  await s.store.rescan()
  return { ...s, root, outside, name: share.name }
}

describe('resolve and open', () => {
  it('give the real path of an indexed file, proven inside its share, with fresh size and mtime', async () => {
    const { store, root, name } = await setup()
    const r = await store.resolve(`${name}/music/song.flac`)
    expect(r).toMatchObject({
      realPath: realpathSync(join(root, 'music/song.flac')),
      dir: false,
      size: 8,
    })
    const d = await store.resolve(`${name}/music`)
    expect(d.dir).toBe(true)
    const opened = await store.open(`${name}/docs/readme.txt`)
    try {
      expect((await opened.handle.readFile()).toString()).toBe('read me')
      expect(opened.size).toBe(7)
    } finally {
      await opened.handle.close()
    }
  })

  it('refuse a file swapped for a symlink out of the share after the scan', async () => {
    const { store, root, outside, name } = await setup()
    unlinkSync(join(root, 'music/song.flac'))
    symlinkSync(join(outside, 'secret.txt'), join(root, 'music/song.flac'))
    await expect(store.resolve(`${name}/music/song.flac`)).rejects.toMatchObject({
      code: 'OUTSIDE_SHARE',
    })
    await expect(store.open(`${name}/music/song.flac`)).rejects.toMatchObject({
      code: 'OUTSIDE_SHARE',
    })
    unlinkSync(join(root, 'music/song.flac'))
    symlinkSync('/etc/passwd', join(root, 'music/song.flac'))
    await expect(store.open(`${name}/music/song.flac`)).rejects.toMatchObject({
      code: 'OUTSIDE_SHARE',
    })
  })

  it('refuse a directory swapped for a symlink out of the share after the scan', async () => {
    const { store, root, outside, name } = await setup()
    rmSync(join(root, 'docs'), { recursive: true })
    mkdirSync(join(outside, 'docs'))
    writeFileSync(join(outside, 'docs/readme.txt'), 'not yours')
    symlinkSync(join(outside, 'docs'), join(root, 'docs'))
    await expect(store.open(`${name}/docs/readme.txt`)).rejects.toMatchObject({
      code: 'OUTSIDE_SHARE',
    })
  })

  it('open a file that is a symlink to another file inside its share', async () => {
    const { store, root, name } = await setup()
    symlinkSync(join(root, 'docs/readme.txt'), join(root, 'music/alias.txt'))
    await store.rescan()
    const opened = await store.open(`${name}/music/alias.txt`)
    try {
      expect((await opened.handle.readFile()).toString()).toBe('read me')
      expect(opened.realPath).toBe(realpathSync(join(root, 'docs/readme.txt')))
    } finally {
      await opened.handle.close()
    }
  })

  it('follow a share root re-pointed elsewhere at once (the remembered root never admits the old one)', async () => {
    const s = await testStore()
    cleanups.push(s.close)
    const dir = tempDir('hdp-resolve-root-')
    cleanups.push(dir.cleanup)
    makeTree(join(dir.path, 'a'), { 'x.txt': 'old' })
    makeTree(join(dir.path, 'b'), { 'x.txt': 'new' })
    const link = join(dir.path, 'link')
    symlinkSync(join(dir.path, 'a'), link)
    const share = await s.store.shares.add(link)
    await s.store.rescan()
    const read = async () => {
      const opened = await s.store.open(`${share.name}/x.txt`)
      try {
        return (await opened.handle.readFile()).toString()
      } finally {
        await opened.handle.close()
      }
    }
    expect(await read()).toBe('old')
    unlinkSync(link)
    symlinkSync(join(dir.path, 'b'), link)
    expect(await read()).toBe('new')
    expect((await s.store.resolve(`${share.name}/x.txt`)).realPath).toBe(
      realpathSync(join(dir.path, 'b/x.txt')),
    )
  })

  it('refuse what is not in the index (ignored, unscanned, never there) and what left the disk', async () => {
    const { store, root, name } = await setup()
    await expect(store.resolve(`${name}/.DS_Store`)).rejects.toMatchObject({ code: 'NOT_FOUND' })
    writeFileSync(join(root, 'late.txt'), 'added after the scan')
    await expect(store.open(`${name}/late.txt`)).rejects.toMatchObject({ code: 'NOT_FOUND' })
    await expect(store.resolve(`${name}/nope`)).rejects.toMatchObject({ code: 'NOT_FOUND' })
    await expect(store.resolve('other/x')).rejects.toMatchObject({ code: 'NOT_FOUND' })
    await expect(store.resolve('')).rejects.toMatchObject({ code: 'NOT_FOUND' })
    renameSync(join(root, 'docs/readme.txt'), join(root, 'docs/moved.txt'))
    await expect(store.open(`${name}/docs/readme.txt`)).rejects.toMatchObject({ code: 'NOT_FOUND' })
  })

  it('refuse paths the wire would refuse', async () => {
    const { store, name } = await setup()
    for (const bad of [
      `${name}/../outside/secret.txt`,
      `/${name}/music`,
      `${name}/./music`,
      `${name}\\music`,
      'a\u0000b',
    ]) {
      await expect(store.resolve(bad)).rejects.toMatchObject({ code: 'BAD_PATH' })
    }
  })

  it('refuse to open a directory or a FIFO swapped in, without hanging', async () => {
    const { store, root, name } = await setup()
    await expect(store.open(`${name}/music`)).rejects.toMatchObject({ code: 'NOT_A_FILE' })
    unlinkSync(join(root, 'docs/readme.txt'))
    execFileSync('mkfifo', [join(root, 'docs/readme.txt')])
    await expect(store.open(`${name}/docs/readme.txt`)).rejects.toMatchObject({
      code: 'NOT_A_FILE',
    })
  })

  it('honour an abort signal', async () => {
    const { store, name } = await setup()
    await expect(
      store.resolve(`${name}/music/song.flac`, { signal: AbortSignal.abort() }),
    ).rejects.toMatchObject({
      name: 'AbortError',
    })
  })
})
