import { realpath, stat } from 'node:fs/promises'
import type { DirRecord } from './dir-record'
import { sameDirRecord } from './dir-record'
import { IndexStoreError } from './errors'
import { foldedSegment } from './fold'
import type { IndexTree, ShareRow } from './index-tree'
import { Listing } from './listing'
import type { IndexStoreLogger } from './logger'
import type { DirectoryReader, ListJob, ListResult, StatJob, StatResult } from './read-directory'
import type { DirRunner } from './scan-runner'

/**
 * A directory whose mtime is this close to (or after) the moment it was listed is listed again
 * next time even if the mtime did not move: file systems with coarse timestamps (FAT: 2 s)
 * would otherwise hide a change made in the same tick as the listing.
 */
const RACY_MS = 3000
/** Most directories sent to a thread in one message. */
const MAX_BATCH = 64
/** Most unchanged directories checked on the main thread before yielding to the event loop. */
const STAT_BATCH = 256
const PROGRESS_INTERVAL_MS = 200

export interface ScanProgressEvent {
  type: 'index-store:scan'
  share: string
  /** Directories finished so far in this share. */
  dirs: number
  /** Files seen so far in this share. */
  files: number
  bytes: number
  skipped: number
  done: boolean
}

export interface ShareScanSummary {
  share: string
  /** Totals of the share after the scan. */
  dirs: number
  files: number
  bytes: number
  /** Directories read with `readdir` (new, changed, or all of them with `full`). */
  listed: number
  /** Directories trusted from their unchanged mtime (only their subdirectories were stat'ed). */
  unchanged: number
  /** Directories whose listing changed and was written. */
  changed: number
  /** Directories that disappeared and were removed from the index. */
  removed: number
  /** Entries refused (unreadable, vanished, not UTF-8, unsafe name, symlink out...). */
  skipped: number
  /** Entries matched by an ignore rule. */
  ignored: number
  /** Set when the share's root could not be scanned; its index is then left untouched. */
  error?: string
}

export interface ScanShareOptions {
  /** Read every directory and stat every file, trusting no mtime. Default `false`. */
  full?: boolean
  signal?: AbortSignal
  onProgress?: (event: ScanProgressEvent) => void
}

/** What reads directories for a scan. */
export interface ScanReaders {
  /** Reads `list` jobs (on worker threads or inline). */
  runner: DirRunner
  /** Answers `stat` jobs (a few lstats each) on the main thread: cheaper than a message. */
  inline: DirectoryReader
}

interface JobMeta {
  id: number
  parentId: number
  name: string
  nameBytes: Buffer
  abs: string
  rel: string
  prefixBytes: number
  /** mtime seen by the parent's stat, just before this directory is read. */
  mtime: number
  /** The row as it was before this scan (a placeholder for a new directory). */
  old: DirRecord | undefined
  isNew: boolean
  /** Set while a `stat` job checks an unchanged directory's subdirectories. */
  oldListing?: Listing
}

interface OpenDir {
  meta: JobMeta
  listing: Listing
  listedAt: number
  pending: number
  bytes: number
  files: number
}

function errnoCode(err: unknown): string {
  return typeof err === 'object' && err !== null && 'code' in err && typeof err.code === 'string'
    ? err.code
    : String(err)
}

/**
 * Brings one share's part of the index in line with the disk.
 *
 * Directories are read in pre-order (a parent before its children) and finished in post-order
 * (a parent after its children, when its totals are known). Each result's writes go out in one
 * event turn, so one LMDB transaction holds a directory's new listing together with the rows
 * of the children it introduces and the removal of the children it lost: a reader, or a store
 * reopened after a crash, never sees a listing pointing at nothing.
 */
export class ShareScan {
  readonly #tree: IndexTree
  readonly #share: ShareRow
  readonly #readers: ScanReaders
  readonly #options: ScanShareOptions
  readonly #log: IndexStoreLogger
  readonly #jobs = new Map<number, JobMeta>()
  readonly #open = new Map<number, OpenDir>()
  readonly #queue: ListJob[] = []
  readonly #statQueue: StatJob[] = []
  #realRoot = ''
  #inflight = 0
  #done = false
  /** Set when run() returns: late results (after an abort) must not write anything. */
  #closed = false
  #failure: unknown
  #wake: (() => void) | undefined
  #lastProgress = 0
  readonly #summary: ShareScanSummary
  #seenDirs = 0
  #seenFiles = 0
  #seenBytes = 0

  constructor(
    tree: IndexTree,
    share: ShareRow,
    readers: ScanReaders,
    options: ScanShareOptions,
    log: IndexStoreLogger,
  ) {
    this.#tree = tree
    this.#share = share
    this.#readers = readers
    this.#options = options
    this.#log = log
    this.#summary = {
      share: share.name,
      dirs: 0,
      files: 0,
      bytes: 0,
      listed: 0,
      unchanged: 0,
      changed: 0,
      removed: 0,
      skipped: 0,
      ignored: 0,
    }
  }

  async run(): Promise<ShareScanSummary> {
    const { signal } = this.#options
    signal?.throwIfAborted()
    let realRoot: string
    let rootMtime: number
    try {
      realRoot = await realpath(this.#share.root)
      const st = await stat(realRoot)
      if (!st.isDirectory()) throw Object.assign(new Error('not a directory'), { code: 'ENOTDIR' })
      rootMtime = st.mtimeMs
    } catch (err) {
      // An unmounted disk looks like a missing root: keep its index rather than wipe it.
      this.#summary.error = `cannot read the share root ${this.#share.root}: ${errnoCode(err)}`
      this.#log.error('share %s: %s', this.#share.name, this.#summary.error)
      return this.#summary
    }
    this.#realRoot = realRoot
    const onAbort = () => this.#wake?.()
    signal?.addEventListener('abort', onAbort)
    await this.#tree.beginSearchWrites()
    try {
      const rootName = Buffer.from(this.#share.name, 'utf8')
      this.#schedule({
        id: this.#share.rootId,
        parentId: 0,
        name: this.#share.name,
        nameBytes: rootName,
        abs: realRoot,
        rel: '',
        prefixBytes: rootName.length,
        mtime: rootMtime,
        old: this.#tree.dir(this.#share.rootId),
        isNew: false,
      })
      while (!this.#done) {
        if (this.#failure !== undefined) throw this.#failure
        signal?.throwIfAborted()
        this.#pump()
        if (this.#statQueue.length > 0) {
          this.#runStats()
          // Let results, queries and aborts in between batches of unchanged directories.
          await new Promise<void>((resolve) => setImmediate(resolve))
          continue
        }
        if (this.#done) break
        await new Promise<void>((resolve) => {
          this.#wake = resolve
        })
        this.#wake = undefined
      }
      if (this.#failure !== undefined) throw this.#failure
      await this.#tree.committed()
      const writeError = this.#tree.takeWriteError()
      if (writeError !== undefined) throw writeError
      this.#progress(true)
      return this.#summary
    } finally {
      this.#closed = true
      signal?.removeEventListener('abort', onAbort)
      // Batches still on worker threads finish there; their results are dropped (#closed).
      await this.#tree.endSearchWrites()
    }
  }

  #runStats(): void {
    const batch = this.#statQueue.splice(Math.max(0, this.#statQueue.length - STAT_BATCH))
    try {
      for (const job of batch) this.#onStat(this.#readers.inline.stat(job))
    } catch (err) {
      this.#failure ??= err
    }
    this.#checkDone()
  }

  /** Sends queued jobs to free runner slots. */
  #pump(): void {
    const runner = this.#readers.runner
    while (this.#queue.length > 0 && this.#inflight < runner.slots) {
      // Split the queue fairly between free slots, but keep batches large when it is long.
      const share = Math.ceil(this.#queue.length / runner.slots)
      const size = Math.max(1, Math.min(MAX_BATCH, share))
      // LIFO keeps the walk depth-first, so few directories are open (listed, unfinished).
      const batch = this.#queue.splice(this.#queue.length - size, size)
      this.#inflight++
      runner.run(batch).then(
        (results) => {
          this.#inflight--
          if (this.#closed) return
          try {
            for (const r of results) {
              if (r.kind === 'list') this.#onList(r)
              else this.#onStat(r)
            }
          } catch (err) {
            this.#failure ??= err
          }
          this.#checkDone()
          this.#wake?.()
        },
        (err) => {
          this.#inflight--
          if (this.#closed) return
          this.#failure ??= new IndexStoreError(
            'SCAN_FAILED',
            `a scan thread failed: ${String(err)}`,
            { cause: err },
          )
          this.#wake?.()
        },
      )
    }
  }

  #checkDone(): void {
    if (
      this.#inflight === 0 &&
      this.#queue.length === 0 &&
      this.#statQueue.length === 0 &&
      this.#open.size === 0
    ) {
      this.#done = true
    }
  }

  /** Decides between a full read and, for a directory unchanged since it was listed, a stat of its subdirectories. */
  #schedule(meta: JobMeta): void {
    const old = meta.old
    const trusted =
      this.#options.full !== true &&
      !meta.isNew &&
      old !== undefined &&
      old.listedAt > 0 &&
      old.mtime === meta.mtime &&
      old.mtime + RACY_MS < old.listedAt
    if (trusted) {
      const listing = this.#tree.listing(meta.id)
      if (listing !== undefined) {
        meta.oldListing = listing
        const names: string[] = []
        for (let i = 0; i < listing.count; i++) if (listing.isDir(i)) names.push(listing.name(i))
        this.#jobs.set(meta.id, meta)
        if (names.length === 0) this.#onStat({ kind: 'stat', id: meta.id, mtimes: [] })
        else this.#statQueue.push({ kind: 'stat', id: meta.id, abs: meta.abs, names })
        return
      }
    }
    this.#jobs.set(meta.id, meta)
    this.#queue.push(this.#listJob(meta))
  }

  #listJob(meta: JobMeta): ListJob {
    return {
      kind: 'list',
      id: meta.id,
      realRoot: this.#realRoot,
      abs: meta.abs,
      rel: meta.rel,
      prefixBytes: meta.prefixBytes,
    }
  }

  #childMeta(
    parent: JobMeta,
    name: string,
    nameBytes: Buffer,
    id: number,
    mtime: number,
    isNew: boolean,
  ): JobMeta {
    return {
      id,
      parentId: parent.id,
      name,
      nameBytes,
      abs: `${parent.abs}/${name}`,
      rel: parent.rel === '' ? name : `${parent.rel}/${name}`,
      prefixBytes: parent.prefixBytes + 1 + nameBytes.length,
      mtime,
      old: isNew ? undefined : this.#tree.dir(id),
      isNew,
    }
  }

  #onList(r: ListResult): void {
    const meta = this.#jobs.get(r.id)
    if (meta === undefined) return
    this.#jobs.delete(r.id)
    this.#summary.skipped += r.skipped.length
    this.#summary.ignored += r.ignored
    for (const s of r.skipped) {
      this.#log(
        'share %s: skipped %s (%s%s)',
        this.#share.name,
        s.path,
        s.reason,
        s.code ? ` ${s.code}` : '',
      )
    }
    if (r.error !== undefined) {
      this.#summary.skipped++
      this.#log(
        'share %s: skipped directory %s (%s %s)',
        this.#share.name,
        meta.rel || '.',
        r.error.reason,
        r.error.code,
      )
      if (meta.parentId === 0) {
        this.#summary.error = `cannot read the share root: ${r.error.code}`
        this.#checkDone()
        return
      }
      this.#dropChild(meta)
      return
    }
    this.#summary.listed++
    const listing = new Listing(r.listing)
    const old = meta.isNew ? undefined : this.#tree.listing(meta.id)
    const children: JobMeta[] = []
    for (const sub of r.subdirs) {
      const nameBytes = listing.nameBytes(sub.index)
      let childId = 0
      if (old !== undefined) {
        const j = old.find(nameBytes)
        if (j >= 0 && old.isDir(j)) childId = old.childId(j)
      }
      const isNew = childId === 0
      // A new child's own row is written when it is finished; until then readers treat the
      // id as an empty directory, and a scan after a crash lists it (no row: not trusted).
      if (isNew) childId = this.#tree.allocateId()
      listing.setChildId(sub.index, childId)
      children.push(
        this.#childMeta(meta, sub.name, Buffer.from(nameBytes), childId, sub.mtime, isNew),
      )
    }
    if (old !== undefined) {
      for (let i = 0; i < old.count; i++) {
        if (!old.isDir(i)) continue
        const j = listing.find(old.nameBytes(i))
        if (j < 0 || !listing.isDir(j))
          this.#summary.removed += this.#tree.deleteSubtree(old.childId(i))
      }
    }
    if (old === undefined || !old.bytes.equals(listing.bytes)) {
      this.#tree.putListing(meta.id, listing.bytes, r.names)
      this.#summary.changed++
    }
    this.#openDir(meta, listing, r.listedAt, r.fileBytes, r.fileCount, children)
  }

  #onStat(r: StatResult): void {
    const meta = this.#jobs.get(r.id)
    if (meta === undefined || meta.oldListing === undefined) return
    this.#jobs.delete(r.id)
    const listing = meta.oldListing
    delete meta.oldListing
    if (r.mtimes.includes(null)) {
      // A subdirectory vanished although the mtime said nothing changed: read it for real.
      this.#queue.push(this.#listJob(meta))
      this.#jobs.set(meta.id, meta)
      return
    }
    this.#summary.unchanged++
    const children: JobMeta[] = []
    let s = 0
    for (let i = 0; i < listing.count; i++) {
      if (!listing.isDir(i)) continue
      const mtime = r.mtimes[s++] as number
      children.push(
        this.#childMeta(
          meta,
          listing.name(i),
          listing.nameBytes(i),
          listing.childId(i),
          mtime,
          false,
        ),
      )
    }
    const totals = listing.fileTotals()
    this.#openDir(meta, listing, meta.old?.listedAt ?? 0, totals.bytes, totals.files, children)
  }

  #openDir(
    meta: JobMeta,
    listing: Listing,
    listedAt: number,
    bytes: number,
    files: number,
    children: JobMeta[],
  ): void {
    this.#seenFiles += files
    this.#seenBytes += bytes
    // One extra pending count while scheduling: a child that finishes synchronously (an
    // unchanged leaf) must not finish this directory before all its children are counted.
    const dir: OpenDir = { meta, listing, listedAt, pending: children.length + 1, bytes, files }
    this.#open.set(meta.id, dir)
    for (const child of children) this.#schedule(child)
    dir.pending--
    if (dir.pending === 0) this.#finish(dir)
    this.#progress(false)
  }

  /** A child listed in its parent could not be read: take it out of the parent's listing. */
  #dropChild(meta: JobMeta): void {
    if (meta.isNew) this.#tree.removeDir(meta.id)
    else this.#summary.removed += this.#tree.deleteSubtree(meta.id)
    const parent = this.#open.get(meta.parentId)
    if (parent === undefined) return
    const i = parent.listing.find(meta.nameBytes)
    if (i >= 0) {
      parent.listing = parent.listing.without(i)
      const names: string[] = []
      for (let j = 0; j < parent.listing.count; j++) names.push(parent.listing.name(j))
      this.#tree.putListing(parent.meta.id, parent.listing.bytes, foldedSegment(names))
    }
    parent.pending--
    if (parent.pending === 0) this.#finish(parent)
    this.#checkDone()
  }

  /** All children are done: write this directory's totals and hand them to its parent. */
  #finish(dir: OpenDir): void {
    let at: OpenDir | undefined = dir
    while (at !== undefined) {
      const { meta } = at
      const record: DirRecord = {
        parentId: meta.parentId,
        name: meta.name,
        bytes: at.bytes,
        files: at.files,
        mtime: meta.mtime,
        listedAt: at.listedAt,
      }
      if (meta.old === undefined || !sameDirRecord(meta.old, record))
        this.#tree.putDir(meta.id, record)
      this.#open.delete(meta.id)
      this.#seenDirs++
      if (meta.parentId === 0) {
        this.#summary.dirs = this.#seenDirs
        this.#summary.files = at.files
        this.#summary.bytes = at.bytes
        this.#checkDone()
        return
      }
      const parent = this.#open.get(meta.parentId)
      if (parent === undefined) return
      parent.bytes += at.bytes
      parent.files += at.files
      parent.pending--
      at = parent.pending === 0 ? parent : undefined
    }
    this.#checkDone()
  }

  #progress(done: boolean): void {
    const onProgress = this.#options.onProgress
    if (onProgress === undefined) return
    const now = Date.now()
    if (!done && now - this.#lastProgress < PROGRESS_INTERVAL_MS) return
    this.#lastProgress = now
    try {
      onProgress({
        type: 'index-store:scan',
        share: this.#share.name,
        dirs: this.#seenDirs,
        files: this.#seenFiles,
        bytes: this.#seenBytes,
        skipped: this.#summary.skipped,
        done,
      })
    } catch (err) {
      this.#log.error('onProgress threw: %O', err)
    }
  }
}
