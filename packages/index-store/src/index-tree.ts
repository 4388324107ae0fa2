import type { Entry, Logger } from '@harddrive-party/wire-protocol'
import { limits } from '@harddrive-party/wire-protocol'
import type { StoreDatabases } from './database'
import { type DirRecord, decodeDirRecord, encodeDirRecord } from './dir-record'
import { foldedSegment } from './fold'
import { Listing } from './listing'
import type { SearchIndex } from './search-index'

/** A share as stored: the directory it exposes and the id of its root in the tree. */
export interface ShareRow {
  name: string
  /** Absolute path as given (may contain symlinks; its real path is the boundary). */
  root: string
  rootId: number
  addedAt: number
}

/** Where a share path points in the index. */
export type Location =
  | { kind: 'root' }
  | { kind: 'dir'; id: number; record: DirRecord; path: string }
  | { kind: 'file'; parentId: number; listing: Listing; index: number; path: string }

/** mtime as the wire carries it (whole ms, non-negative), or undefined when it cannot. */
export function wireMtime(ms: number): number | undefined {
  const t = Math.floor(ms)
  return Number.isFinite(t) && t >= 0 && t <= limits.MAX_MTIME ? t : undefined
}

function fileEntry(path: string, size: number, mtime: number): Entry {
  const e: Entry = { path, size, dir: false }
  const m = wireMtime(mtime)
  if (m !== undefined) e.mtime = m
  return e
}

/** Most bytes of folder listings kept between reads (see `IndexTree.#cachedListing`). */
const MAX_CACHED_LISTING_BYTES = 16 * 1024 * 1024

/**
 * Reads and writes the directory tree (dirs, listings, names tables) and keeps the in-memory
 * search index in step. Writes are lmdb's batched async puts: all writes issued in one event
 * turn commit in one transaction, which is what keeps a listing and the rows it points to
 * consistent.
 */
export class IndexTree {
  readonly dbs: StoreDatabases
  /** See {@link IndexTree.#cachedListing}. */
  readonly #cachedListings = new Map<number, Listing>()
  /** Bytes of the listings in {@link IndexTree.#cachedListings}. */
  #cachedBytes = 0
  readonly search: SearchIndex
  readonly #log: Logger
  #nextId: number
  #writeError: unknown
  readonly #onWriteError = (err: unknown) => {
    this.#writeError ??= err
    this.#log.error('index write failed: %O', err)
  }

  constructor(dbs: StoreDatabases, search: SearchIndex, log: Logger) {
    this.dbs = dbs
    this.search = search
    this.#log = log
    const stored = dbs.meta.get('nextDirId')
    this.#nextId = typeof stored === 'number' && stored >= 1 ? stored : 1
  }

  #searchWriters = 0

  /**
   * Brackets writes that touch both environments. The names live in a second LMDB
   * environment, so a crash can separate them from the listings: `searchClean` is false in the
   * main environment while such writes are in progress, and a store opened with it false
   * rebuilds the names from the listings ({@link repairSearch}).
   */
  async beginSearchWrites(): Promise<void> {
    if (this.#searchWriters++ === 0) await this.dbs.meta.put('searchClean', false)
  }

  async endSearchWrites(): Promise<void> {
    await this.committed()
    if (--this.#searchWriters === 0) {
      await this.dbs.searchEnv.flushed
      await this.dbs.meta.put('searchClean', true)
    }
  }

  /** Resolves when every write issued so far is committed in both environments. */
  async committed(): Promise<void> {
    await Promise.all([this.dbs.env.committed, this.dbs.searchEnv.committed])
  }

  /** Rebuilds the folded names from the listings when the last writer did not finish. */
  async repairSearch(): Promise<boolean> {
    if (this.dbs.meta.get('searchClean') === true) return false
    await this.dbs.names.clearAsync()
    let n = 0
    for (const { key, value } of this.dbs.listings.getRange({})) {
      const listing = new Listing(value)
      const names: string[] = []
      for (let i = 0; i < listing.count; i++) names.push(listing.name(i))
      void this.dbs.names.put(key, Buffer.from(foldedSegment(names))).catch(this.#onWriteError)
      if (++n % 1000 === 0) await this.dbs.searchEnv.committed
    }
    await this.dbs.searchEnv.flushed
    await this.dbs.meta.put('searchClean', true)
    this.#log('rebuilt the search names of %d directories', n)
    return true
  }

  /** Throws the first failed write since the last call (and forgets it). */
  takeWriteError(): unknown {
    const err = this.#writeError
    this.#writeError = undefined
    return err
  }

  /**
   * A new directory id. The counter is written once per event turn, in the same transaction
   * as the writes that use the ids (lmdb batches one turn's writes into one transaction).
   */
  allocateId(): number {
    const id = this.#nextId++
    if (id > 0xffff_fffe) throw new RangeError('directory ids exhausted')
    if (!this.#idQueued) {
      this.#idQueued = true
      queueMicrotask(() => {
        this.#idQueued = false
        this.dbs.meta.put('nextDirId', this.#nextId).catch(this.#onWriteError)
      })
    }
    this.search.set(id, new Uint8Array(0))
    return id
  }

  #idQueued = false

  dir(id: number): DirRecord | undefined {
    const raw = this.dbs.dirs.getBinaryFast(id)
    return raw === undefined ? undefined : decodeDirRecord(raw)
  }

  listing(id: number): Listing | undefined {
    const raw = this.dbs.listings.getBinary(id)
    return raw === undefined ? undefined : new Listing(raw)
  }

  putDir(id: number, record: DirRecord): void {
    this.dbs.dirs.put(id, encodeDirRecord(record)).catch(this.#onWriteError)
  }

  putListing(id: number, listing: Uint8Array, folded: Uint8Array): void {
    this.#forgetListing(id)
    this.dbs.listings
      .put(id, Buffer.from(listing.buffer, listing.byteOffset, listing.byteLength))
      .then(() => this.#forgetListing(id), this.#onWriteError)
    this.dbs.names
      .put(id, Buffer.from(folded.buffer, folded.byteOffset, folded.byteLength))
      .catch(this.#onWriteError)
    this.search.set(id, folded)
  }

  removeDir(id: number): void {
    this.dbs.dirs.remove(id).catch(this.#onWriteError)
    this.#forgetListing(id)
    this.dbs.listings.remove(id).then(() => this.#forgetListing(id), this.#onWriteError)
    this.dbs.names.remove(id).catch(this.#onWriteError)
    this.search.delete(id)
  }

  /** Removes a directory and everything below it; returns how many directories went. */
  deleteSubtree(id: number): number {
    let removed = 0
    const stack = [id]
    while (stack.length > 0) {
      const at = stack.pop() as number
      const listing = this.listing(at)
      if (listing !== undefined) {
        for (let i = 0; i < listing.count; i++) {
          const child = listing.isDir(i) ? listing.childId(i) : 0
          if (child !== 0) stack.push(child)
        }
      }
      this.removeDir(at)
      removed++
    }
    return removed
  }

  /** The share path of a directory, or undefined when its chain is broken. */
  pathOf(id: number, cache?: Map<number, string | undefined>): string | undefined {
    const cached = cache?.get(id)
    if (cached !== undefined || cache?.has(id)) return cached
    const names: string[] = []
    let at = id
    let path: string | undefined
    for (let depth = 0; depth < 4096; depth++) {
      const hit = cache?.get(at)
      if (hit !== undefined) {
        path = names.length === 0 ? hit : `${hit}/${names.reverse().join('/')}`
        break
      }
      const rec = this.dir(at)
      if (rec === undefined) break
      names.push(rec.name)
      if (rec.parentId === 0) {
        path = names.reverse().join('/')
        break
      }
      at = rec.parentId
    }
    cache?.set(id, path)
    return path
  }

  /** Finds a validated share path in the index. */
  locate(path: string, share: ShareRow | undefined): Location | undefined {
    if (path === '') return { kind: 'root' }
    if (share === undefined) return undefined
    const segments = path.split('/')
    let id = share.rootId
    let record = this.dir(id)
    if (record === undefined) return undefined
    for (let s = 1; s < segments.length; s++) {
      const listing = this.listing(id)
      if (listing === undefined) return undefined
      const i = listing.find(Buffer.from(segments[s] as string, 'utf8'))
      if (i < 0) return undefined
      if (!listing.isDir(i)) {
        return s === segments.length - 1
          ? { kind: 'file', parentId: id, listing, index: i, path }
          : undefined
      }
      id = listing.childId(i)
      record = this.dir(id)
      if (record === undefined) return undefined
    }
    return { kind: 'dir', id, record, path }
  }

  /** Whether a validated share path is in the index: the answer to each file served. */
  has(path: string, share: ShareRow | undefined): boolean {
    if (path === '') return true
    if (share === undefined) return false
    const segments = path.split('/')
    let id = share.rootId
    if (!this.dbs.dirs.doesExist(id)) return false
    for (let s = 1; s < segments.length; s++) {
      const listing = this.#cachedListing(id)
      if (listing === undefined) return false
      const i = listing.find(Buffer.from(segments[s] as string, 'utf8'))
      if (i < 0) return false
      if (!listing.isDir(i)) return s === segments.length - 1
      id = listing.childId(i)
      if (!this.dbs.dirs.doesExist(id)) return false
    }
    return true
  }

  /**
   * A folder's listing, kept between calls: serving a folder of small files checks each file
   * against its folder's listing, and each `getBinary` copies the whole listing (hundreds of
   * KiB for a folder of 10,000 files, fresh memory each time) out of the database; one copy per
   * `read-many` of 64 files was still a fifth of the serving peer's main thread. A listing is
   * forgotten when it is written or removed here (the only writer), once when the write is
   * issued and again when it is committed, so a copy read in between is not kept: a check sees
   * the index as it was at most until a write's commit is reported. What it lets through is
   * still proven on disk (the open descriptor must be a file inside its share).
   */
  #cachedListing(id: number): Listing | undefined {
    const cached = this.#cachedListings.get(id)
    if (cached !== undefined) return cached
    const raw = this.dbs.listings.getBinary(id)
    if (raw === undefined) return undefined
    const listing = new Listing(raw)
    if (this.#cachedBytes + raw.length > MAX_CACHED_LISTING_BYTES) {
      this.#cachedListings.clear()
      this.#cachedBytes = 0
    }
    this.#cachedListings.set(id, listing)
    this.#cachedBytes += raw.length
    return listing
  }

  #forgetListing(id: number): void {
    const cached = this.#cachedListings.get(id)
    if (cached === undefined) return
    this.#cachedListings.delete(id)
    this.#cachedBytes -= cached.bytes.length
  }

  /** The wire entry for child `i` of `listing`, whose directory has share path `dirPath`. */
  entryAt(listing: Listing, i: number, dirPath: string): Entry {
    const path = `${dirPath}/${listing.name(i)}`
    if (!listing.isDir(i)) return fileEntry(path, listing.size(i), listing.mtime(i))
    return this.dirEntry(path, this.dir(listing.childId(i)))
  }

  dirEntry(path: string, record: DirRecord | undefined): Entry {
    const e: Entry = { path, size: record?.bytes ?? 0, dir: true, files: record?.files ?? 0 }
    const m = record === undefined || record.listedAt === 0 ? undefined : wireMtime(record.mtime)
    if (m !== undefined) e.mtime = m
    return e
  }
}
