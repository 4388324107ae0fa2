import { randomBytes } from 'node:crypto'
import { closeSync, mkdirSync, openSync, writeFileSync } from 'node:fs'
import { mkdir, readFile, rm } from 'node:fs/promises'
import { join } from 'node:path'
import type { DownloadErrorEvent, DownloadFileEvent, PeerNode } from '@harddrive-party/peer-node'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { Cleanup, connectedTo, loopbackOptions, useMosquitto, waitUntil } from './helpers'

/**
 * Files in the big shared folder. 500,000 real files take ~7 minutes here to create, index and
 * remove (a loaded 2-core machine: 50,000 took 12 s + 17 s + 10 s), too long for every test
 * run; 50,000 is 50 listing pages, and the time to the first byte depends on the first page
 * only (the folder is listed page by page). `HDP_BIG_FOLDER_FILES=500000` runs the full case.
 */
const BIG_FOLDER_FILES = Number(process.env.HDP_BIG_FOLDER_FILES ?? 50_000)
const PER_FOLDER = 1000

const againLarge = randomBytes(300 * 1024)
const broker = useMosquitto()
const cleanup = new Cleanup()
let alice: PeerNode
let bob: PeerNode
let downloadDir: string

beforeAll(async () => {
  const [aliceDir, bobDir, shareParent, downloads] = await Promise.all([
    cleanup.dir(),
    cleanup.dir(),
    cleanup.dir(),
    cleanup.dir(),
  ])
  downloadDir = downloads
  // Share `data`: `big/d000/f0000` … (empty files but the first), and `empty/` with nothing.
  const data = join(shareParent, 'data')
  for (let d = 0; d < BIG_FOLDER_FILES / PER_FOLDER; d++) {
    const dir = join(data, 'big', `d${String(d).padStart(3, '0')}`)
    mkdirSync(dir, { recursive: true })
    for (let i = 0; i < PER_FOLDER; i++) {
      closeSync(openSync(join(dir, `f${String(i).padStart(4, '0')}`), 'w'))
    }
  }
  writeFileSync(join(data, 'big', 'd000', 'f0000'), 'the first file of a huge folder')
  writeFileSync(join(data, 'small.txt'), 'one small file')
  await mkdir(join(data, 'empty'))
  // `again/`: small files (held in memory, written with their batch) and one written to a part.
  await mkdir(join(data, 'again', 'sub'), { recursive: true })
  writeFileSync(join(data, 'again', 'a.txt'), 'alpha')
  writeFileSync(join(data, 'again', 'b.txt'), 'beta')
  writeFileSync(join(data, 'again', 'sub', 'c.txt'), 'gamma')
  writeFileSync(join(data, 'again', 'large.bin'), againLarge)
  alice = cleanup.node(loopbackOptions(aliceDir, broker.url))
  bob = cleanup.node(loopbackOptions(bobDir, broker.url, { downloadDir }))
  await Promise.all([alice.start(), bob.start()])
  await alice.store.shares.add(data)
  await alice.store.rescan()
  expect(alice.store.totals().files).toBe(BIG_FOLDER_FILES + 5)
  await alice.join('big folders')
  await bob.join('big folders')
  await waitUntil('the pair connects', () => connectedTo(bob).length === 1, 30_000)
}, 600_000)

afterAll(() => cleanup.run(), 120_000)

function nextFileEvent(node: PeerNode): Promise<DownloadFileEvent> {
  return new Promise((resolve) =>
    node.downloads.addEventListener('download:file', ({ detail }) => resolve(detail), {
      once: true,
    }),
  )
}

describe('downloads of folders', () => {
  it(`a folder of ${BIG_FOLDER_FILES} files starts downloading within a second`, async () => {
    // The same path for one small file first: what a start costs here whatever the folder
    // (on this shared 2-core machine under load, even that can take seconds).
    const single = nextFileEvent(bob)
    let began = performance.now()
    const one = await bob.downloads.add(alice.publicKey, 'data/small.txt')
    expect(await single).toMatchObject({ outcome: 'done', path: 'data/small.txt' })
    const singleMs = performance.now() - began
    await waitUntil(
      'the single file is recorded',
      () => bob.downloads.get(one.id)?.state === 'done',
    )

    const first = nextFileEvent(bob)
    began = performance.now()
    const request = await bob.downloads.add(alice.publicKey, 'data/big')
    const event = await first
    const elapsedMs = performance.now() - began
    const known = bob.downloads.get(request.id)?.files ?? 0
    console.log(
      `first file of a folder of ${BIG_FOLDER_FILES} in place ${elapsedMs.toFixed(0)} ms after add ` +
        `(${known} files listed by then); one small file alone: ${singleMs.toFixed(0)} ms`,
    )
    expect(event).toMatchObject({ outcome: 'done' })
    expect(event.path.startsWith('data/big/d000/')).toBe(true)
    expect(await readFile(event.localPath)).toHaveLength(event.path.endsWith('f0000') ? 31 : 0)
    // The goal is a second (0.5 s measured at load ~13); on this shared 2-core machine at load
    // ~20 it took 1.2 s (a lone file: 0.25 s), so the bound is 4 s, or 4 lone files when slower
    // still: never the time to list the whole folder first.
    expect(elapsedMs).toBeLessThan(Math.max(4000, 4 * singleMs))
    // Listed page by page: far from every file is known yet.
    expect(known).toBeLessThan(BIG_FOLDER_FILES)
    expect(await bob.downloads.cancel(request.id)).toBe(true)
  }, 60_000)

  it('a path that is gone or lists nothing ends failed with NOT_FOUND / EMPTY, not done', async () => {
    const errors: DownloadErrorEvent[] = []
    bob.downloads.addEventListener('download:error', ({ detail }) => errors.push(detail))
    const gone = await bob.downloads.add(alice.publicKey, 'data/no-such-folder')
    const empty = await bob.downloads.add(alice.publicKey, 'data/empty')
    // The error events follow the commit that ends each request (its readers may see it first).
    await waitUntil('both requests end with an error event', () =>
      [gone.id, empty.id].every((id) => errors.some((e) => e.requestId === id)),
    )
    expect(bob.downloads.get(gone.id)).toMatchObject({ state: 'failed', code: 'NOT_FOUND' })
    expect(bob.downloads.get(empty.id)).toMatchObject({ state: 'failed', code: 'EMPTY' })
    expect(errors.map((e) => [e.requestId, e.code])).toEqual(
      expect.arrayContaining([
        [gone.id, 'NOT_FOUND'],
        [empty.id, 'EMPTY'],
      ]),
    )
    // resume lists it again (and it fails again: still nothing there).
    const errorsBefore = errors.length
    expect((await bob.downloads.resume(empty.id)).state).not.toBe('failed')
    await waitUntil('the empty request fails again', () => errors.length > errorsBefore)
    expect(bob.downloads.get(empty.id)).toMatchObject({ state: 'failed', code: 'EMPTY' })
  }, 60_000)

  it('the same path again while unfinished is the same request; once done, a new one', async () => {
    // A peer nobody has met: its requests wait, unfinished, for as long as the test needs.
    const absent = 'ab'.repeat(32)
    const [first, second] = await Promise.all([
      bob.downloads.add(absent, 'films/noir'),
      bob.downloads.add(absent, 'films/noir'),
    ])
    expect(second.id).toBe(first.id)
    const paused = await bob.downloads.pause(first.id)
    expect(paused.state).toBe('paused')
    const again = await bob.downloads.add(absent, 'films/noir')
    expect(again.id).toBe(first.id)
    expect(again.state).not.toBe('paused') // asked for again: it resumes
    const other = await bob.downloads.add(absent, 'films/noir/other')
    expect(other.id).not.toBe(first.id)
    const mine = (await bob.downloads.list()).filter((r) => r.peer === absent)
    expect(mine.map((r) => r.path).sort()).toEqual(['films/noir', 'films/noir/other'])
    for (const r of mine) await bob.downloads.cancel(r.id)

    // Done: asking again downloads it again (the remote file may have changed).
    const done = nextFileEvent(bob)
    const once = await bob.downloads.add(alice.publicKey, 'data/small.txt')
    await done
    await waitUntil('it is recorded done', () => bob.downloads.get(once.id)?.state === 'done')
    const twice = await bob.downloads.add(alice.publicKey, 'data/small.txt')
    expect(twice.id).not.toBe(once.id)
  }, 60_000)

  it('a downloaded folder the user removed downloads again', async () => {
    const landed = new Map<string, string>()
    const onFile = ({ detail }: CustomEvent<DownloadFileEvent>) => {
      if (detail.outcome === 'done') landed.set(detail.path, detail.localPath)
    }
    bob.downloads.addEventListener('download:file', onFile)
    try {
      const expected = new Map([
        ['data/again/a.txt', Buffer.from('alpha')],
        ['data/again/b.txt', Buffer.from('beta')],
        ['data/again/sub/c.txt', Buffer.from('gamma')],
        ['data/again/large.bin', againLarge],
      ])
      const complete = async (what: string) => {
        landed.clear()
        const request = await bob.downloads.add(alice.publicKey, 'data/again')
        // The file events follow the commit that records them (a reader may see it first).
        await waitUntil(
          what,
          () =>
            bob.downloads.get(request.id)?.state === 'done' &&
            [...expected.keys()].every((path) => landed.has(path)),
          30_000,
        )
        for (const [path, bytes] of expected) {
          expect(await readFile(landed.get(path)!)).toEqual(bytes)
        }
      }
      await complete('the folder is downloaded')
      // Removed while the node runs (the folders it made are remembered): made again, not a
      // write into a missing folder retried forever.
      const folder = join(landed.get('data/again/a.txt')!, '..')
      await rm(folder, { recursive: true })
      await complete('the removed folder is downloaded again')
      expect(landed.get('data/again/a.txt')).toBe(join(folder, 'a.txt'))
    } finally {
      bob.downloads.removeEventListener('download:file', onFile)
    }
  }, 60_000)
})
