// Mirrors the usage example of README.md line by line, against a real directory and database.
import { join } from 'node:path'
import { openIndexStore } from '@harddrive-party/index-store'
import type { Entry } from '@harddrive-party/wire-protocol'
import { afterEach, expect, it } from 'vitest'
import { makeTree, tempDir } from './helpers'

const cleanups: (() => unknown)[] = []
afterEach(() => {
  for (const c of cleanups.splice(0)) c()
})

it('runs the README example', async () => {
  const tmp = tempDir('hdp-readme-')
  cleanups.push(tmp.cleanup)
  const srv = join(tmp.path, 'srv')
  makeTree(srv, {
    'music/Beatles/Abbey Road/01 Come Together.flac': 4,
    'music/Beatles/Abbey Road/02 Something.flac': 5,
    'music/song.part': 1,
  })
  const remoteKey = new Uint8Array(32).fill(7)
  const seen: Entry[] = []
  const console = { log: (e: Entry) => seen.push(e) }

  // --- README ---
  const store = await openIndexStore({ path: join(tmp.path, 'hdp-db'), ignore: ['*.part'] })
  const share = store.shares.get('music') ?? (await store.shares.add(join(srv, 'music'))) // named 'music'
  await store.rescan() // incremental every time: unchanged directories are not read again

  for await (const entry of store.search('abbey road', { limit: 20 })) console.log(entry)

  const page = store.ls(share.name, { recursive: true, limit: 2 })
  for await (const entry of page) console.log(entry)
  if (page.cursor)
    for await (const entry of store.ls(share.name, { recursive: true, cursor: page.cursor }))
      console.log(entry)

  const file = await store.open('music/Beatles/Abbey Road/01 Come Together.flac')
  await file.handle.close()

  await store.wishlist.add({
    peer: remoteKey,
    path: 'films/Alien.mkv',
    size: 4_700_000_000,
    destination: '/downloads',
  })
  await store.topics.join('movie night')
  await store.close()
  // --- end ---

  expect(share.name).toBe('music')
  expect(seen.map((e) => e.path)).toEqual([
    'music/Beatles/Abbey Road',
    'music/Beatles',
    'music/Beatles/Abbey Road',
    'music/Beatles/Abbey Road/01 Come Together.flac',
    'music/Beatles/Abbey Road/02 Something.flac',
  ])
  expect(seen[0]).toMatchObject({ dir: true, size: 9, files: 2 })
  expect(file.size).toBe(4)
  expect(file.realPath).toBe(join(srv, 'music/Beatles/Abbey Road/01 Come Together.flac'))
})
