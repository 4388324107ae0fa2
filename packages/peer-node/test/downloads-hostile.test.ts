import { mkdir, readdir, readFile, symlink, writeFile } from 'node:fs/promises'
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

/** Every file the hostile peer offers: its content is its own name. */
const HOSTILE = [
  'films/CON',
  'films/a:b',
  'films/...',
  'films/ ',
  'films/evil\u202etxt.exe',
  'films/x.part',
  'films/trail. ',
  'films/linked/inside.txt', // a symlink to outside is planted there
  'films/blocker/inside.txt', // a file is planted where this folder should be
]
const HONEST = ['films/honest.txt', 'films/deep/er/honest2.txt']

/** A peer speaking the real protocol with hand-written answers. */
async function answer(stream: TransportStream): Promise<void> {
  const request = await firstFrame(stream)
  if (request.type === 'ls') {
    if (request.cursor === undefined) {
      const entries = [...HOSTILE, ...HONEST, 'other/outside.txt', 'filmsX/evil'].map((path) => ({
        path,
        size: Buffer.byteLength(path),
        dir: false,
        mtime: 1000,
      }))
      await stream.write(frame({ type: 'entries', entries }))
      await stream.write(frame({ type: 'end', cursor: new Uint8Array([1]) }))
    } else {
      // The last page: traversal, which the wire decoder refuses (the page fails, and is retried).
      const entries = [{ path: 'films/../../escape', size: 1, dir: false, mtime: 1000 }]
      await stream.write(frame({ type: 'entries', entries }))
      await stream.write(frame({ type: 'end' }))
    }
  } else if (request.type === 'read-many') {
    // Protocol 1.1 (our transport's hello says so): every file whole, in order.
    for (const [index, f] of (request.files as { path: string }[]).entries()) {
      const body = Buffer.from(f.path)
      await stream.write(frame({ type: 'file', index, size: body.length, mtime: 1000 }))
      await stream.write(body)
    }
  } else if (request.type === 'read') {
    const body = Buffer.from(String(request.path))
    const offset = Number(request.offset)
    await stream.write(
      frame({
        type: 'header',
        size: body.length,
        mtime: 1000,
        offset,
        length: body.length - offset,
      }),
    )
    await stream.write(body.subarray(offset))
  }
  await stream.end()
}

describe('downloads from a malicious peer', () => {
  it('writes nothing outside the download dir, refuses or renames every hostile name, honest files arrive', async () => {
    const { client } = await startHostilePeer(cleanups, answer)

    const dir = await tempDir()
    const outside = join(dir, 'outside')
    const downloadDir = join(dir, 'downloads')
    const peerDir = join(downloadDir, 'Mallory')
    await mkdir(join(peerDir, 'films'), { recursive: true })
    await mkdir(outside)
    await symlink(outside, join(peerDir, 'films', 'linked'))
    await writeFile(join(peerDir, 'films', 'blocker'), 'planted')
    const store = await openIndexStore({ path: join(dir, 'db') })
    cleanups.add(() => store.close())
    const downloads = new DownloadsImpl({
      wishlist: store.wishlist,
      downloadDir,
      client: () => client,
      peerName: () => 'Mallory',
      options: {},
      log: defaultLogger('test'),
    })
    cleanups.add(() => downloads.stop())
    const errors: string[] = []
    downloads.addEventListener('download:error', ({ detail }) =>
      errors.push(`${detail.code} ${detail.path}`),
    )
    downloads.start()
    const request = await downloads.add('ab'.repeat(32), 'films')
    const got = async (p: string) =>
      readFile(join(peerDir, ...p.split('/')), 'utf8').catch(() => '')
    const end = Date.now() + 15_000
    while ((await got(HONEST[0]!)) !== HONEST[0] || (await got(HONEST[1]!)) !== HONEST[1]) {
      if (Date.now() > end) throw new Error(`honest files missing; errors: ${errors.join(', ')}`)
      await new Promise((r) => setTimeout(r, 100))
    }
    await waitUntil('every listed file handled', () => {
      const r = downloads.get(request.id)
      return r !== undefined && r.filesDone + r.filesFailed === r.files && r.files === 11
    })
    expect(await readdir(outside)).toEqual([])
    expect(await readdir(dir)).toEqual(expect.arrayContaining(['downloads', 'outside']))
    expect((await readdir(dir)).filter((n) => n.includes('escape'))).toEqual([])
    const names = (await readdir(join(peerDir, 'films'))).sort()
    expect(names).toEqual(
      [
        '_CON',
        'a_b',
        'blocker',
        'deep',
        'evil_txt.exe',
        'honest.txt',
        'linked',
        'trail__',
        'x.part_',
      ].sort(),
    )
    expect(await readFile(join(peerDir, 'films', '_CON'), 'utf8')).toBe('films/CON')
    expect(await readFile(join(peerDir, 'films', 'blocker'), 'utf8')).toBe('planted')
    const files = await downloads.files(request.id)
    const failed = files
      .filter((f) => f.state === 'failed')
      .map((f) => f.path)
      .sort()
    expect(failed).toEqual([
      'films/ ',
      'films/...',
      'films/blocker/inside.txt',
      'films/linked/inside.txt',
    ])
    expect(errors.filter((e) => e.startsWith('UNSAFE_NAME')).length).toBe(4)
    expect(errors.some((e) => e.startsWith('EXPAND'))).toBe(true)
  }, 60_000)
})
