import { execFileSync } from 'node:child_process'
import { randomBytes } from 'node:crypto'
import { mkdir, readFile, stat } from 'node:fs/promises'
import { join } from 'node:path'
import { openIndexStore } from '@harddrive-party/index-store'
import type { TransportStream } from '@harddrive-party/transport'
import { afterEach, describe, expect, it } from 'vitest'
import { DownloadsImpl } from '../src/downloads/downloads'
import { defaultLogger } from '../src/logger'
import { tempDir, waitUntil } from './helpers'
import { firstFrame, frame, startHostilePeer } from './raw-peer'
import { Cleanups } from './serving-helpers'

const cleanups = new Cleanups()
afterEach(() => cleanups.run())
const FILE = randomBytes(3 * 1024 * 1024)

/** A peer with one 3 MiB file, speaking the real protocol. */
async function answer(stream: TransportStream): Promise<void> {
  const request = await firstFrame(stream)
  if (request.type === 'ls') {
    const entries = [{ path: 'iso/disk.img', size: FILE.length, dir: false, mtime: 1000 }]
    await stream.write(frame({ type: 'entries', entries }))
    await stream.write(frame({ type: 'end' }))
  } else if (request.type === 'read') {
    const offset = Number(request.offset)
    const length = Math.min(FILE.length - offset, Number(request.length ?? FILE.length))
    await stream.write(frame({ type: 'header', size: FILE.length, mtime: 1000, offset, length }))
    for (let at = offset; at < offset + length; at += 65536) {
      await stream.write(FILE.subarray(at, Math.min(offset + length, at + 65536)))
    }
  }
  await stream.end()
}

/** tmpfs needs root (these tests run as root in CI and here). */
const canMount = process.getuid?.() === 0
if (!canMount) console.log('skipping the full-disk test: mounting a small tmpfs needs root')

describe('a full download disk', () => {
  it.runIf(canMount)(
    'halts the queue with a clear reason, keeps the part, completes after resumeQueue',
    async () => {
      const { client } = await startHostilePeer(cleanups, answer)
      const dir = await tempDir()
      const downloadDir = join(dir, 'downloads')
      await mkdir(downloadDir)
      execFileSync('mount', ['-t', 'tmpfs', '-o', 'size=1m', 'tmpfs', downloadDir])
      cleanups.add(() => execFileSync('umount', [downloadDir]))
      const store = await openIndexStore({ path: join(dir, 'db') })
      cleanups.add(() => store.close())
      const downloads = new DownloadsImpl({
        wishlist: store.wishlist,
        downloadDir,
        client: () => client,
        peerName: () => 'Peer',
        options: {},
        log: defaultLogger('test'),
      })
      cleanups.add(() => downloads.stop())
      const errors: string[] = []
      downloads.addEventListener('download:error', ({ detail }) => errors.push(detail.code))
      downloads.start()
      const request = await downloads.add('ab'.repeat(32), 'iso')
      await waitUntil('the queue halts', () => downloads.status().halted, 20_000)
      expect(downloads.status().reason).toMatch(/disk is full/)
      expect(errors).toContain('DISK_FULL')
      await waitUntil(
        'the request shows paused',
        () => downloads.get(request.id)?.state === 'paused',
      )
      const [file] = await downloads.files(request.id)
      expect(file).toMatchObject({ state: 'queued' })
      const kept = (await stat(file!.partPath)).size
      expect(kept).toBeGreaterThan(0)
      // Room again: the download continues from the part, and completes byte-exact.
      execFileSync('mount', ['-o', 'remount,size=8m', downloadDir])
      downloads.resumeQueue()
      await waitUntil('done', () => downloads.get(request.id)?.state === 'done', 20_000)
      expect(
        Buffer.compare(await readFile(join(downloadDir, 'Peer', 'iso', 'disk.img')), FILE),
      ).toBe(0)
    },
    60_000,
  )
})
