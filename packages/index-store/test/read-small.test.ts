import { execFileSync } from 'node:child_process'
import { mkdirSync, realpathSync, rmSync, symlinkSync, unlinkSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { afterEach, describe, expect, it } from 'vitest'
import { SmallFileReader } from '../src/small-file-reader'
import { makeTree, tempDir, testStore } from './helpers'

const cleanups: (() => unknown)[] = []
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c()
})

async function setup() {
  const s = await testStore()
  cleanups.push(s.close)
  const dir = tempDir('hdp-read-small-')
  cleanups.push(dir.cleanup)
  const root = join(dir.path, 'share')
  const outside = join(dir.path, 'outside')
  const files: Record<string, string> = {
    'music/song.flac': 'la la la',
    'docs/readme.txt': 'read me',
  }
  for (let i = 0; i < 150; i++) files[`many/f${i}.txt`] = `file number ${i}`
  makeTree(root, files)
  makeTree(outside, { 'docs/readme.txt': 'not yours', 'secret.txt': 'top secret' })
  const share = await s.store.shares.add(root)
  await s.store.rescan()
  return { ...s, root, outside, name: share.name }
}

const text = (b: Uint8Array) => Buffer.from(b).toString()

describe('readSmall', () => {
  it('reads an indexed file with a fresh size and mtime, from an offset, at most maxBytes', async () => {
    const { store, root, name } = await setup()
    const whole = await store.readSmall(`${name}/docs/readme.txt`, { offset: 0, maxBytes: 1024 })
    expect(text(whole.bytes)).toBe('read me')
    expect(whole).toMatchObject({
      sharePath: `${name}/docs/readme.txt`,
      realPath: realpathSync(join(root, 'docs/readme.txt')),
      dir: false,
      size: 7,
      offset: 0,
    })
    const part = await store.readSmall(`${name}/music/song.flac`, { offset: 3, maxBytes: 2 })
    expect(text(part.bytes)).toBe('la')
    expect(part.size).toBe(8)
    // A file that grew since the scan: never more than maxBytes, and the size says how big.
    writeFileSync(join(root, 'docs/readme.txt'), 'x'.repeat(100_000))
    const grown = await store.readSmall(`${name}/docs/readme.txt`, { offset: 0, maxBytes: 64 })
    expect(grown.bytes.length).toBe(64)
    expect(grown.size).toBe(100_000)
    const beyond = await store.readSmall(`${name}/music/song.flac`, { offset: 50, maxBytes: 8 })
    expect(beyond.bytes.length).toBe(0)
  })

  it('answers many reads asked at once, each with its own bytes', async () => {
    const { store, name } = await setup()
    const reads = await Promise.all(
      Array.from({ length: 150 }, (_, i) =>
        store.readSmall(`${name}/many/f${i}.txt`, { offset: 0, maxBytes: 100 }),
      ),
    )
    reads.forEach((r, i) => {
      expect(text(r.bytes)).toBe(`file number ${i}`)
    })
  })

  it('follows the index across rescans: a folder listing kept between reads is not kept stale', async () => {
    const { store, root, name } = await setup()
    const read = (path: string) => store.readSmall(`${name}/${path}`, { offset: 0, maxBytes: 100 })
    expect(text((await read('docs/readme.txt')).bytes)).toBe('read me')
    writeFileSync(join(root, 'docs/late.txt'), 'added after the scan')
    // On disk, but not in the index yet (the folder's listing read above says so).
    await expect(read('docs/late.txt')).rejects.toMatchObject({ code: 'NOT_FOUND' })
    await store.rescan()
    expect(text((await read('docs/late.txt')).bytes)).toBe('added after the scan')
    rmSync(join(root, 'docs'), { recursive: true })
    await store.rescan()
    makeTree(root, { 'docs/readme.txt': 'back, not scanned' })
    await expect(read('docs/readme.txt')).rejects.toMatchObject({ code: 'NOT_FOUND' })
  })

  it('refuses a file or a folder swapped for a symlink out of the share', async () => {
    const { store, root, outside, name } = await setup()
    unlinkSync(join(root, 'music/song.flac'))
    symlinkSync(join(outside, 'secret.txt'), join(root, 'music/song.flac'))
    const range = { offset: 0, maxBytes: 100 }
    await expect(store.readSmall(`${name}/music/song.flac`, range)).rejects.toMatchObject({
      code: 'OUTSIDE_SHARE',
    })
    // A folder on the way: the open follows it, the descriptor's own path gives it away.
    rmSync(join(root, 'docs'), { recursive: true })
    symlinkSync(join(outside, 'docs'), join(root, 'docs'))
    await expect(store.readSmall(`${name}/docs/readme.txt`, range)).rejects.toMatchObject({
      code: 'OUTSIDE_SHARE',
    })
  })

  it('reads a file that is a symlink to another file inside its share', async () => {
    const { store, root, name } = await setup()
    symlinkSync(join(root, 'docs/readme.txt'), join(root, 'music/alias.txt'))
    await store.rescan()
    const r = await store.readSmall(`${name}/music/alias.txt`, { offset: 0, maxBytes: 100 })
    expect(text(r.bytes)).toBe('read me')
    expect(r.realPath).toBe(realpathSync(join(root, 'docs/readme.txt')))
  })

  it('refuses a folder or a FIFO swapped in (without hanging), what left the disk, bad paths and ranges', async () => {
    const { store, root, name } = await setup()
    const range = { offset: 0, maxBytes: 100 }
    rmSync(join(root, 'music/song.flac'))
    mkdirSync(join(root, 'music/song.flac'))
    await expect(store.readSmall(`${name}/music/song.flac`, range)).rejects.toMatchObject({
      code: 'NOT_A_FILE',
    })
    unlinkSync(join(root, 'docs/readme.txt'))
    execFileSync('mkfifo', [join(root, 'docs/readme.txt')])
    await expect(store.readSmall(`${name}/docs/readme.txt`, range)).rejects.toMatchObject({
      code: 'NOT_A_FILE',
    })
    unlinkSync(join(root, 'many/f1.txt'))
    await expect(store.readSmall(`${name}/many/f1.txt`, range)).rejects.toMatchObject({
      code: 'NOT_FOUND',
    })
    writeFileSync(join(root, 'late.txt'), 'added after the scan')
    await expect(store.readSmall(`${name}/late.txt`, range)).rejects.toMatchObject({
      code: 'NOT_FOUND',
    })
    await expect(store.readSmall(`${name}/../x`, range)).rejects.toMatchObject({ code: 'BAD_PATH' })
    await expect(
      store.readSmall(`${name}/many/f2.txt`, { offset: 0, maxBytes: 2 * 1024 * 1024 }),
    ).rejects.toThrow(RangeError)
    await expect(
      store.readSmall(`${name}/many/f2.txt`, { offset: -1, maxBytes: 10 }),
    ).rejects.toThrow(RangeError)
  })

  it('honours an abort signal, and refuses once the store is stopped', async () => {
    const { store, name, close } = await setup()
    await expect(
      store.readSmall(
        `${name}/many/f3.txt`,
        { offset: 0, maxBytes: 10 },
        { signal: AbortSignal.abort() },
      ),
    ).rejects.toMatchObject({ name: 'AbortError' })
    expect(
      text((await store.readSmall(`${name}/many/f3.txt`, { offset: 0, maxBytes: 100 })).bytes),
    ).toBe('file number 3')
    await close()
    await expect(async () =>
      store.readSmall(`${name}/many/f3.txt`, { offset: 0, maxBytes: 10 }),
    ).rejects.toMatchObject({ code: 'NOT_STARTED' })
  })
})

describe('SmallFileReader (the reading thread)', () => {
  it('reads on its thread, reports errnos and where each descriptor leads, and refuses once closed', async () => {
    const dir = tempDir('hdp-small-reader-')
    cleanups.push(dir.cleanup)
    makeTree(dir.path, { 'a.txt': 'alpha', 'b.txt': 'bravo' })
    const reader = new SmallFileReader()
    const [a, b, missing] = await Promise.all([
      reader.read(join(dir.path, 'a.txt'), 1, 3),
      reader.read(join(dir.path, 'b.txt'), 0, 100),
      reader.read(join(dir.path, 'none.txt'), 0, 100),
    ])
    expect(a).toMatchObject({ kind: 'read', isFile: true, size: 5 })
    expect(a.kind === 'read' && text(a.bytes)).toBe('lph')
    expect(a.kind === 'read' && a.opened).toBe(realpathSync(join(dir.path, 'a.txt')))
    expect(b.kind === 'read' && text(b.bytes)).toBe('bravo')
    expect(missing).toMatchObject({ kind: 'error', code: 'ENOENT' })
    expect(reader.broken).toBe(false)
    await reader.close()
    expect(reader.broken).toBe(true)
    await expect(reader.read(join(dir.path, 'a.txt'), 0, 1)).rejects.toThrow(/closed/)
  })
})
