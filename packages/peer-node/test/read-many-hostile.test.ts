import { readdir, readFile } from 'node:fs/promises'
import { join } from 'node:path'
import type { TransportStream } from '@harddrive-party/transport'
import { afterEach, describe, expect, it } from 'vitest'
import { defaultLogger } from '../src/logger'
import { waitUntil } from './helpers'
import { firstFrame, frame, startHostilePeer } from './raw-peer'
import { Cleanups, startDownloads } from './serving-helpers'

const cleanups = new Cleanups()
afterEach(() => cleanups.run())

const MTIME = 1000
/** A file's content is its own path, repeated to `n` bytes. */
const content = (path: string, n = 50) =>
  Buffer.from(path.repeat(Math.ceil(n / path.length))).subarray(0, n)

const LIES = [
  'more files than asked',
  'an index out of order',
  'a repeated index',
  'a file not asked for',
  'more bytes than the header said',
  'a size not asked for',
  'a stream that stops mid-file',
] as const
type Lie = (typeof LIES)[number]

/** Answers a read-many honestly, but for `lie`. */
async function answerReadMany(
  stream: TransportStream,
  files: { path: string; size: number }[],
  lie: Lie | undefined,
): Promise<void> {
  const send = async (index: number, file: { path: string; size: number }) => {
    await stream.write(frame({ type: 'file', index, size: file.size, mtime: MTIME }))
    await stream.write(content(file.path, file.size))
  }
  for (const [index, file] of files.entries()) {
    if (index === 1 && lie === 'an index out of order' && files.length > 2) {
      await send(2, files[2]!)
      break
    }
    if (index === 1 && lie === 'a repeated index') {
      await send(0, files[0]!)
      break
    }
    if (index === 1 && lie === 'a file not asked for') {
      await send(files.length + 3, { path: 'films/secret', size: 10 })
      break
    }
    if (index === 1 && lie === 'a size not asked for') {
      await send(1, { ...file, size: file.size + 7 })
      break
    }
    if (index === 1 && lie === 'a stream that stops mid-file') {
      await stream.write(frame({ type: 'file', index, size: file.size, mtime: MTIME }))
      await stream.write(content(file.path, file.size).subarray(0, 10))
      break
    }
    await send(index, file)
    if (index === 0 && lie === 'more bytes than the header said') {
      await stream.write(Buffer.from('xxxxxxxxxxxxxxxx'))
      break
    }
  }
  if (lie === 'more files than asked') await send(files.length, files[0]!)
}

describe('read-many from a lying peer', () => {
  it('ends each lie with a typed error and keeps only the files received before it', async () => {
    let lie: Lie | undefined
    const { client } = await startHostilePeer(cleanups, async (stream) => {
      const request = await firstFrame(stream)
      await answerReadMany(stream, request.files as { path: string; size: number }[], lie)
      await stream.end()
    })
    expect(client.understandsReadMany).toBe(true)
    const files = ['a/1', 'a/2', 'a/3'].map((path) => ({ path, size: 50, mtime: MTIME }))
    const expected: Record<Lie, { got: number[]; code: string }> = {
      'more files than asked': { got: [0, 1, 2], code: 'BAD_RESPONSE' },
      'an index out of order': { got: [0], code: 'BAD_RESPONSE' },
      'a repeated index': { got: [0], code: 'BAD_RESPONSE' },
      'a file not asked for': { got: [0], code: 'BAD_RESPONSE' },
      'more bytes than the header said': { got: [0], code: 'BAD_RESPONSE' },
      'a size not asked for': { got: [0], code: 'BAD_RESPONSE' },
      'a stream that stops mid-file': { got: [0], code: 'INTERRUPTED' },
    }
    for (const l of LIES) {
      lie = l
      const got: number[] = []
      let caught: { code?: string } | undefined
      try {
        for await (const r of client.readMany(files)) {
          expect(r.bytes).toEqual(content(files[r.index]!.path))
          got.push(r.index)
        }
      } catch (err) {
        caught = err as { code?: string }
      }
      expect({ lie: l, got, code: caught?.code }).toEqual({ lie: l, ...expected[l] })
    }
  })

  it('a download from a peer that lies once per batch still completes, byte-exact', async () => {
    const paths = Array.from({ length: 300 }, (_, i) => `films/f${String(i).padStart(3, '0')}`)
    const lies = [...LIES]
    const told: Lie[] = []
    const { client } = await startHostilePeer(cleanups, async (stream) => {
      const request = await firstFrame(stream)
      if (request.type === 'ls') {
        // Pages of the size asked for; the cursor is where the next page starts.
        const from =
          request.cursor === undefined
            ? 0
            : (request.cursor as Uint8Array)[0]! * 256 + (request.cursor as Uint8Array)[1]!
        const to = Math.min(paths.length, from + Number(request.limit ?? 1000))
        const entries = paths
          .slice(from, to)
          .map((path) => ({ path, size: 50, dir: false, mtime: MTIME }))
        await stream.write(frame({ type: 'entries', entries }))
        const more = to < paths.length ? { cursor: new Uint8Array([to >> 8, to & 255]) } : {}
        await stream.write(frame({ type: 'end', ...more }))
      } else if (request.type === 'read-many') {
        const files = request.files as { path: string; size: number }[]
        // Each lie once, on requests of more than two files; then the truth.
        const lie = files.length > 2 ? lies.shift() : undefined
        if (lie !== undefined) told.push(lie)
        await answerReadMany(stream, files, lie)
      }
      await stream.end()
    })
    const logged: string[] = []
    const base = defaultLogger('test')
    const log = Object.assign(
      (format: string, ...args: unknown[]) => {
        logged.push([format, ...args].join(' '))
      },
      { error: base.error, trace: base.trace },
    )
    const { downloads, downloadDir } = await startDownloads(cleanups, client, 'Mallory', log)
    const request = await downloads.add('ab'.repeat(32), 'films')
    await waitUntil(
      'every file downloaded',
      () => downloads.get(request.id)?.state === 'done',
      60_000,
    )
    expect(told).toEqual([...LIES])
    const landed = join(downloadDir, 'Mallory', 'films')
    expect((await readdir(landed)).sort()).toEqual(paths.map((p) => p.slice('films/'.length)))
    for (const p of paths) expect(await readFile(join(landed, p.slice(6)))).toEqual(content(p))
    expect(await readdir(downloadDir)).toEqual(['Mallory'])
    // The lies were retried with their typed reasons, not recorded as failures.
    expect(logged.some((l) => l.includes('BAD_RESPONSE'))).toBe(true)
    expect(logged.some((l) => l.includes('INTERRUPTED'))).toBe(true)
  }, 90_000)

  it('pause while read-many requests wait: nothing is lost, resume completes every file', async () => {
    const paths = Array.from({ length: 100 }, (_, i) => `films/g${String(i).padStart(3, '0')}`)
    let held = true
    let waiting = 0
    const { client } = await startHostilePeer(cleanups, async (stream) => {
      const request = await firstFrame(stream)
      if (request.type === 'ls') {
        const entries = paths.map((path) => ({ path, size: 50, dir: false, mtime: MTIME }))
        await stream.write(frame({ type: 'entries', entries }))
        await stream.write(frame({ type: 'end' }))
      } else if (request.type === 'read-many') {
        // Held until the test lets answers go (or the requester aborts the stream).
        waiting++
        let gone = false
        void stream.closed.then(() => {
          gone = true
        })
        while (held && !gone) await new Promise((r) => setTimeout(r, 20))
        waiting--
        await answerReadMany(stream, request.files as { path: string; size: number }[], undefined)
      }
      await stream.end()
    })
    const { downloads, downloadDir } = await startDownloads(cleanups, client, 'Mallory')
    const request = await downloads.add('ab'.repeat(32), 'films')
    await waitUntil('read-many requests wait', () => waiting > 0)
    const paused = await downloads.pause(request.id)
    expect(paused).toMatchObject({ state: 'paused', filesDone: 0 })
    const files = await downloads.files(request.id)
    expect(files.filter((f) => f.state === 'active')).toEqual([])
    expect(files).toHaveLength(100)
    held = false
    await downloads.resume(request.id)
    await waitUntil(
      'every file downloaded',
      () => downloads.get(request.id)?.state === 'done',
      60_000,
    )
    const landed = join(downloadDir, 'Mallory', 'films')
    for (const p of paths) expect(await readFile(join(landed, p.slice(6)))).toEqual(content(p))
  }, 90_000)
})
