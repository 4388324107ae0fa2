// Builds a synthetic index of about 1,000,000 names straight into the LMDB tables (the same
// writes a scan makes, without a directory tree of that size on disk).
import { openDatabases } from '../src/database'
import { foldedSegment } from '../src/fold'
import { IndexTree, type ShareRow } from '../src/index-tree'
import { encodeListing, Listing, type ListingInput } from '../src/listing'
import { defaultLogger } from '../src/logger'
import { SearchIndex } from '../src/search-index'

export const ARTISTS = 1000
export const ALBUMS = 10
export const TRACKS = 99
export const BIG_DIR_ENTRIES = 10_000

const SYLLABLES = [
  'ka',
  'lo',
  'mi',
  'ren',
  'sa',
  'to',
  'vel',
  'zu',
  'dar',
  'en',
  'fi',
  'gor',
  'ha',
  'is',
  'jun',
  'ko',
]

/** A deterministic pseudo-word for `n` (16^3 = 4096 distinct words). */
export function word(n: number): string {
  const a = SYLLABLES[n % 16] as string
  const b = SYLLABLES[(n >> 4) % 16] as string
  const c = SYLLABLES[(n >> 8) % 16] as string
  return a + b + c
}

let seed = 42
function rand(n: number): number {
  seed = (Math.imul(seed, 1103515245) + 12345) >>> 0
  return (seed >>> 8) % n
}

export async function buildSyntheticIndex(path: string): Promise<{ names: string[] }> {
  const dbs = openDatabases(path)
  const search = new SearchIndex()
  const tree = new IndexTree(dbs, search, defaultLogger('bench'))
  const names: string[] = []
  const now = Date.now()
  const rootId = tree.allocateId()
  const row: ShareRow = { name: 'library', root: '/nonexistent/library', rootId, addedAt: now }
  let totalBytes = 0
  let totalFiles = 0
  const top: ListingInput[] = []
  const topIds: number[] = []
  let pending = 0
  const flush = async () => {
    if (++pending % 200 === 0) await tree.committed()
  }
  for (let a = 0; a < ARTISTS; a++) {
    const artistName = `${word(rand(4096))} ${word(rand(4096))} ${a}`
    const artistId = tree.allocateId()
    const albums: ListingInput[] = []
    const albumIds: number[] = []
    let artistBytes = 0
    for (let b = 0; b < ALBUMS; b++) {
      const albumName = `${word(rand(4096))} ${word(rand(4096))} (${1960 + b})`
      const albumId = tree.allocateId()
      const tracks: ListingInput[] = []
      let albumBytes = 0
      for (let t = 0; t < TRACKS; t++) {
        const name = `${String(t + 1).padStart(2, '0')} ${word(rand(4096))} ${word(rand(4096))} ${word(rand(4096))}.flac`
        const size = 1_000_000 + rand(50_000_000)
        tracks.push({ name: Buffer.from(name), dir: false, size, mtime: now - rand(1e10) })
        names.push(name)
        albumBytes += size
      }
      const listing = encodeListing(tracks)
      const l = new Listing(listing)
      tree.putListing(
        albumId,
        listing,
        foldedSegment(Array.from({ length: l.count }, (_, i) => l.name(i))),
      )
      tree.putDir(albumId, {
        parentId: artistId,
        name: albumName,
        bytes: albumBytes,
        files: TRACKS,
        mtime: now,
        listedAt: now,
      })
      albums.push({ name: Buffer.from(albumName), dir: true, size: 0, mtime: 0 })
      albumIds.push(albumId)
      names.push(albumName)
      artistBytes += albumBytes
      await flush()
    }
    writeDir(
      tree,
      artistId,
      rootId,
      artistName,
      albums,
      albumIds,
      artistBytes,
      ALBUMS * TRACKS,
      now,
    )
    top.push({ name: Buffer.from(artistName), dir: true, size: 0, mtime: 0 })
    topIds.push(artistId)
    names.push(artistName)
    totalBytes += artistBytes
    totalFiles += ALBUMS * TRACKS
  }
  const bigId = tree.allocateId()
  const big: ListingInput[] = []
  let bigBytes = 0
  for (let i = 0; i < BIG_DIR_ENTRIES; i++) {
    const name = `${word(rand(4096))} ${word(rand(4096))} ${i}.jpg`
    const size = 100_000 + rand(5_000_000)
    big.push({ name: Buffer.from(name), dir: false, size, mtime: now - rand(1e10) })
    names.push(name)
    bigBytes += size
  }
  writeDir(tree, bigId, rootId, 'big-dir', big, [], bigBytes, BIG_DIR_ENTRIES, now)
  top.push({ name: Buffer.from('big-dir'), dir: true, size: 0, mtime: 0 })
  topIds.push(bigId)
  writeDir(
    tree,
    rootId,
    0,
    'library',
    top,
    topIds,
    totalBytes + bigBytes,
    totalFiles + BIG_DIR_ENTRIES,
    now,
  )
  await dbs.shares.put('library', row)
  await tree.committed()
  await dbs.searchEnv.flushed
  await dbs.meta.put('searchClean', true)
  await dbs.env.close()
  await dbs.searchEnv.close()
  return { names }
}

/** Writes a directory whose child directories (in input order) have the given ids. */
function writeDir(
  tree: IndexTree,
  id: number,
  parentId: number,
  name: string,
  entries: ListingInput[],
  dirIds: number[],
  bytes: number,
  files: number,
  now: number,
): void {
  const idByName = new Map<string, number>()
  let d = 0
  for (const e of entries) if (e.dir) idByName.set(e.name.toString(), dirIds[d++] as number)
  const listing = encodeListing(entries)
  const l = new Listing(listing)
  const all: string[] = []
  for (let i = 0; i < l.count; i++) {
    all.push(l.name(i))
    if (l.isDir(i)) l.setChildId(i, idByName.get(l.name(i)) as number)
  }
  tree.putListing(id, listing, foldedSegment(all))
  tree.putDir(id, { parentId, name, bytes, files, mtime: now, listedAt: now })
}
