import { randomBytes } from 'node:crypto'
import { readFile, stat } from 'node:fs/promises'
import { join } from 'node:path'
import { afterEach, describe, expect, it } from 'vitest'
import { PartFile } from '../src/downloads/part-file'
import { MAX_WRITE_BYTES, PartWriter } from '../src/downloads/part-writer'
import { Cleanup } from './helpers'

const cleanup = new Cleanup()
afterEach(() => cleanup.run())

/** A real part file whose writes are counted, and can be held or failed. */
async function countedPart(prefix = Buffer.alloc(0)) {
  const part = await PartFile.open(join(await cleanup.dir(), 'film.mkv'))
  if (prefix.length > 0) await part.write(prefix, 0)
  const writes: number[] = []
  let hold: Promise<void> | undefined
  let fail: Error | undefined
  const writev = part.writev.bind(part)
  part.writev = async (chunks, position) => {
    writes.push(chunks.reduce((n, c) => n + c.length, 0))
    await hold
    if (fail !== undefined) throw fail
    return writev(chunks, position)
  }
  return {
    part,
    writes,
    hold: (p: Promise<void> | undefined) => {
      hold = p
    },
    fail: (err: Error) => {
      fail = err
    },
  }
}

describe('part writer: a transfer’s bytes to its part file', () => {
  it('writes every byte in order after the bytes on disk, gathering chunks while a write runs', async () => {
    const prefix = randomBytes(1000)
    const { part, writes } = await countedPart(prefix)
    const writer = new PartWriter(part, prefix.length)
    const chunks = Array.from({ length: 300 }, (_, i) => randomBytes(16 * 1024 + i))
    for (const chunk of chunks) await writer.push(chunk)
    await writer.flush()
    const all = Buffer.concat([prefix, ...chunks])
    expect(writer.written).toBe(all.length)
    expect(part.size).toBe(all.length)
    expect((await readFile(part.partPath)).equals(all)).toBe(true)
    // Gathered: far fewer writes than chunks, none above the cap plus one chunk.
    expect(writes.length).toBeLessThan(chunks.length)
    expect(Math.max(...writes)).toBeLessThan(MAX_WRITE_BYTES + 17 * 1024)
    await part.close()
  })

  it('a lone chunk reaches the disk without waiting for more (a slow transfer streams)', async () => {
    const { part } = await countedPart()
    const writer = new PartWriter(part, 0)
    await writer.push(Buffer.alloc(5000, 7))
    for (let i = 0; i < 200 && writer.written < 5000; i++)
      await new Promise((r) => setTimeout(r, 5))
    expect(writer.written).toBe(5000)
    expect((await stat(part.partPath)).size).toBe(5000)
    await part.close()
  })

  it('holds at most a write and one more batch: push waits while the disk is slow', async () => {
    const { part, hold } = await countedPart()
    let release!: () => void
    hold(new Promise<void>((r) => (release = r)))
    const writer = new PartWriter(part, 0)
    await writer.push(Buffer.alloc(64 * 1024, 1)) // starts the held write
    let pushed = 0
    let waiting: Promise<void> | undefined
    for (let i = 0; i < 40 && waiting === undefined; i++) {
      const push = writer.push(Buffer.alloc(64 * 1024, 2))
      const settled = await Promise.race([
        push.then(() => true),
        new Promise<boolean>((r) => setTimeout(() => r(false), 20)),
      ])
      if (settled) pushed += 64 * 1024
      else waiting = push
    }
    expect(waiting, 'a push waits once a full batch is gathered').toBeDefined()
    expect(pushed + 64 * 1024).toBeGreaterThanOrEqual(MAX_WRITE_BYTES)
    expect(pushed).toBeLessThan(MAX_WRITE_BYTES)
    expect(writer.written).toBe(0)
    hold(undefined)
    release()
    await waiting
    await writer.flush()
    expect(writer.written).toBe(64 * 1024 + pushed + 64 * 1024)
    await part.close()
  })

  it('a failed write rejects the next push or flush; written stays where the disk ends', async () => {
    const { part, fail } = await countedPart()
    const writer = new PartWriter(part, 0)
    await writer.push(Buffer.alloc(1000, 1))
    await writer.flush()
    fail(Object.assign(new Error('no space left on device'), { code: 'ENOSPC' }))
    await writer.push(Buffer.alloc(1000, 2)).catch(() => {})
    await expect(writer.flush()).rejects.toMatchObject({ code: 'ENOSPC' })
    await expect(writer.push(Buffer.alloc(10))).rejects.toMatchObject({ code: 'ENOSPC' })
    expect(writer.written).toBe(1000)
    expect((await stat(part.partPath)).size).toBe(1000)
    await part.close()
  })
})
