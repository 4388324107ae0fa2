import { execFileSync } from 'node:child_process'
import { mkdir, mkdtemp, readdir, readFile, rm, symlink, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import type { WishlistFile } from '@harddrive-party/index-store'
import { afterEach, describe, expect, it } from 'vitest'
import { type CompletedFile, DurableBatch } from '../src/downloads/durable-batch'
import { classify } from '../src/downloads/file-transfer'
import { SmallFileWriter } from '../src/downloads/small-file-writer'

const cleanups: (() => Promise<unknown>)[] = []
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c()
})

async function setup() {
  const dir = await mkdtemp(join(tmpdir(), 'hdp-small-writer-'))
  cleanups.push(() => rm(dir, { recursive: true, force: true }))
  const writer = new SmallFileWriter()
  cleanups.push(() => writer.close())
  const downloads = join(dir, 'downloads')
  const outside = join(dir, 'outside')
  await mkdir(downloads)
  await mkdir(outside)
  await writeFile(join(outside, 'secret.txt'), 'keep me')
  return { writer, downloads, outside }
}

const file = (index: number): WishlistFile =>
  ({ requestId: 'r', index, path: `share/f${index}`, size: 4 }) as unknown as WishlistFile

describe('small files held in memory, written with their batch', () => {
  it('land at their final names byte-exact, over a stale longer part, and leave no part behind', async () => {
    const { writer, downloads } = await setup()
    await writeFile(join(downloads, 'b.txt.part'), 'an older, longer part')
    const done: CompletedFile[][] = []
    const batch = new DurableBatch({
      maxFiles: 100,
      maxDelayMs: 10_000,
      writer,
      onDurable: async (files) => {
        done.push(files)
      },
      onFailed: async (_c, err) => {
        throw err
      },
      onError: (err) => {
        throw err
      },
    })
    const bytes = ['aaaa', 'bbbb', '']
    for (const [i, name] of ['a.txt', 'b.txt', 'empty.txt'].entries()) {
      await batch.add({
        file: file(i),
        localPath: join(downloads, name),
        bytes: Buffer.from(bytes[i]!),
      })
    }
    await batch.flush()
    expect(done.flat().map((c) => c.file.index)).toEqual([0, 1, 2])
    expect(await readFile(join(downloads, 'a.txt'), 'utf8')).toBe('aaaa')
    expect(await readFile(join(downloads, 'b.txt'), 'utf8')).toBe('bbbb')
    expect(await readFile(join(downloads, 'empty.txt'), 'utf8')).toBe('')
    expect((await readdir(downloads)).sort()).toEqual(['a.txt', 'b.txt', 'empty.txt'])
  })

  it('never writes through a symlink planted at the part or the final name, nor into a FIFO or a folder', async () => {
    const { writer, downloads, outside } = await setup()
    const secret = join(outside, 'secret.txt')
    await symlink(secret, join(downloads, 'p.txt.part'))
    await symlink(secret, join(downloads, 'f.txt'))
    execFileSync('mkfifo', [join(downloads, 'q.txt.part')])
    await mkdir(join(downloads, 'd.txt'))
    const failed = new Map<number, ReturnType<typeof classify>>()
    const done: number[] = []
    const batch = new DurableBatch({
      maxFiles: 100,
      maxDelayMs: 10_000,
      writer,
      onDurable: async (files) => {
        done.push(...files.map((c) => c.file.index))
      },
      onFailed: async (c, err) => {
        failed.set(c.file.index, classify(err))
      },
      onError: (err) => {
        throw err
      },
    })
    const names = ['p.txt', 'f.txt', 'q.txt', 'd.txt', 'ok.txt']
    for (const [i, name] of names.entries()) {
      await batch.add({
        file: file(i),
        localPath: join(downloads, name),
        bytes: Buffer.from('evil'),
      })
    }
    await batch.flush()
    expect(done).toEqual([4])
    expect(await readFile(join(downloads, 'ok.txt'), 'utf8')).toBe('evil')
    // Refused, not retried: a planted symlink (part or final name), a FIFO, a folder.
    for (const i of [0, 1, 2, 3]) expect(failed.get(i)).toMatchObject({ kind: 'failed' })
    expect(failed.get(1)).toMatchObject({ unsafeName: true })
    expect(await readFile(secret, 'utf8')).toBe('keep me')
  })

  it('commits in groups: files added while batches are on their way go in the next, none twice, none lost', async () => {
    const { writer, downloads } = await setup()
    const batches: number[][] = []
    let running = 0
    let mostRunning = 0
    // A flush starts what waits beside the running batches (its caller waits): not counted.
    let flushing = false
    const batch = new DurableBatch({
      maxFiles: 4,
      maxDelayMs: 10_000,
      maxBatches: 2,
      writer,
      onDurable: async (files) => {
        batches.push(files.map((c) => c.file.index))
      },
      onFailed: async (_c, err) => {
        throw err
      },
      onError: (err) => {
        throw err
      },
    })
    // Count batches between their first step and their record.
    const store = writer.store.bind(writer)
    writer.store = async (files) => {
      running++
      if (!flushing) mostRunning = Math.max(mostRunning, running)
      try {
        return await store(files)
      } finally {
        running--
      }
    }
    // 30 adders at once, as the download loops do: `add` holds them while 4 wait and both
    // batches run, so each batch takes at most 4.
    const names = Array.from({ length: 30 }, (_, i) => `g${i}.txt`)
    await Promise.all(
      names.map((name, i) =>
        batch.add({ file: file(i), localPath: join(downloads, name), bytes: Buffer.from(name) }),
      ),
    )
    flushing = true
    await batch.flush()
    const recorded = batches.flat().sort((a, b) => a - b)
    expect(recorded).toEqual(names.map((_, i) => i))
    for (const b of batches) expect(b.length).toBeLessThanOrEqual(4)
    expect(mostRunning).toBeLessThanOrEqual(2)
    expect((await readdir(downloads)).sort()).toEqual([...names].sort())
    for (const name of names) expect(await readFile(join(downloads, name), 'utf8')).toBe(name)
  })

  it('refuses every call once closed (the downloader then writes through part files)', async () => {
    const { writer, downloads } = await setup()
    const part = (name: string) => join(downloads, `${name}.part`)
    const final = (name: string) => join(downloads, name)
    expect(
      await writer.store([
        { partPath: part('x'), finalPath: final('x'), bytes: Buffer.from('x') },
        { partPath: part('y'), finalPath: final('y'), bytes: Buffer.from('yy') },
      ]),
    ).toEqual([undefined, undefined])
    expect(await readFile(final('x'), 'utf8')).toBe('x')
    expect(await readFile(final('y'), 'utf8')).toBe('yy')
    expect((await readdir(downloads)).sort()).toEqual(['x', 'y'])
    expect(writer.broken).toBe(false)
    await writer.close()
    expect(writer.broken).toBe(true)
    await expect(
      writer.store([{ partPath: part('z'), finalPath: final('z'), bytes: Buffer.from('z') }]),
    ).rejects.toThrow(/closed/)
  })

  it('answers batches that overlap on the thread each with its own outcomes', async () => {
    const { writer, downloads } = await setup()
    await mkdir(join(downloads, 'taken'))
    const batchOf = (tag: string, n: number) =>
      Array.from({ length: n }, (_, i) => ({
        partPath: join(downloads, `${tag}${i}.part`),
        finalPath: join(downloads, i === 0 && tag === 'b' ? 'taken' : `${tag}${i}`),
        bytes: Buffer.from(`${tag}${i}`),
      }))
    const [a, b, c] = await Promise.all([
      writer.store(batchOf('a', 3)),
      writer.store(batchOf('b', 5)),
      writer.store(batchOf('c', 2)),
    ])
    expect(a).toEqual([undefined, undefined, undefined])
    expect(c).toEqual([undefined, undefined])
    // Batch b's first file had a folder at its final name: refused, the others placed.
    expect(b!.length).toBe(5)
    expect(b![0]).toMatchObject({ code: 'UNSAFE_NAME' })
    expect(b!.slice(1)).toEqual([undefined, undefined, undefined, undefined])
    for (const i of [1, 2, 3, 4])
      expect(await readFile(join(downloads, `b${i}`), 'utf8')).toBe(`b${i}`)
    expect(await readFile(join(downloads, 'c1'), 'utf8')).toBe('c1')
  })
})
