import { realpath, stat } from 'node:fs/promises'
import type { Logger } from '@harddrive-party/wire-protocol'
import type { DirRecord } from './dir-record'
import { sameDirRecord } from './dir-record'
import { foldedSegment } from './fold'
import type { IndexTree, ShareRow } from './index-tree'
import { Listing } from './listing'
import { carryChildIds, lostSubdirs } from './listing-diff'
import type { ListResult, StatResult } from './read-directory'
import { childMeta, type JobMeta, listJob, rootMeta } from './scan-dir'
import { ScanJobQueue, type ScanReaders } from './scan-job-queue'
import {
  emptySummary,
  ScanProgress,
  type ScanProgressEvent,
  type ShareScanSummary,
} from './scan-report'

/**
 * A directory whose mtime is this close to (or after) the moment it was listed is listed again
 * next time even if the mtime did not move: file systems with coarse timestamps (FAT: 2 s)
 * would otherwise hide a change made in the same tick as the listing.
 */
const RACY_MS = 3000

export interface ScanShareOptions {
  /** Read every directory and stat every file, trusting no mtime. Default `false`. */
  full?: boolean
  signal?: AbortSignal
  onProgress?: (event: ScanProgressEvent) => void
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
  readonly #options: ScanShareOptions
  readonly #log: Logger
  readonly #jobs = new Map<number, JobMeta>()
  readonly #open = new Map<number, OpenDir>()
  readonly #jobQueue: ScanJobQueue
  #realRoot = ''
  #done = false
  #failure: unknown
  #wake: (() => void) | undefined
  readonly #summary: ShareScanSummary
  readonly #totals: ScanProgress

  constructor(
    tree: IndexTree,
    share: ShareRow,
    readers: ScanReaders,
    options: ScanShareOptions,
    log: Logger,
  ) {
    this.#tree = tree
    this.#share = share
    this.#options = options
    this.#log = log
    this.#summary = emptySummary(share.name)
    this.#totals = new ScanProgress(share.name, options.onProgress, log)
    this.#jobQueue = new ScanJobQueue(readers, {
      results: (results) => {
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
      failed: (err) => {
        this.#failure ??= err
        this.#wake?.()
      },
    })
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
      const { rootId, name } = this.#share
      this.#schedule(rootMeta(rootId, name, realRoot, rootMtime, this.#tree.dir(rootId)))
      while (!this.#done) {
        if (this.#failure !== undefined) throw this.#failure
        signal?.throwIfAborted()
        this.#jobQueue.pump()
        if (this.#jobQueue.hasStats) {
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
      this.#totals.report(this.#summary.skipped, true)
      return this.#summary
    } finally {
      this.#jobQueue.close()
      signal?.removeEventListener('abort', onAbort)
      // Batches still on worker threads finish there; their results are dropped.
      await this.#tree.endSearchWrites()
    }
  }

  #runStats(): void {
    try {
      for (const r of this.#jobQueue.answerStats()) this.#onStat(r)
    } catch (err) {
      this.#failure ??= err
    }
    this.#checkDone()
  }

  #checkDone(): void {
    if (this.#jobQueue.idle && this.#open.size === 0) this.#done = true
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
        else this.#jobQueue.stat({ kind: 'stat', id: meta.id, abs: meta.abs, names })
        return
      }
    }
    this.#jobs.set(meta.id, meta)
    this.#jobQueue.list(listJob(meta, this.#realRoot))
  }

  #childMeta(
    parent: JobMeta,
    child: { name: string; nameBytes: Buffer; id: number; mtime: number; isNew: boolean },
  ): JobMeta {
    return childMeta(parent, child, child.isNew ? undefined : this.#tree.dir(child.id))
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
    // A new child's own row is written when it is finished; until then readers treat the
    // id as an empty directory, and a scan after a crash lists it (no row: not trusted).
    const children = carryChildIds(listing, old, r.subdirs, () => this.#tree.allocateId()).map(
      (c) => this.#childMeta(meta, c),
    )
    if (old !== undefined) {
      for (const id of lostSubdirs(old, listing))
        this.#summary.removed += this.#tree.deleteSubtree(id)
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
      this.#jobQueue.list(listJob(meta, this.#realRoot))
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
        this.#childMeta(meta, {
          name: listing.name(i),
          nameBytes: listing.nameBytes(i),
          id: listing.childId(i),
          mtime,
          isNew: false,
        }),
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
    this.#totals.files += files
    this.#totals.bytes += bytes
    // One extra pending count while scheduling: a child that finishes synchronously (an
    // unchanged leaf) must not finish this directory before all its children are counted.
    const dir: OpenDir = { meta, listing, listedAt, pending: children.length + 1, bytes, files }
    this.#open.set(meta.id, dir)
    for (const child of children) this.#schedule(child)
    dir.pending--
    if (dir.pending === 0) this.#finish(dir)
    this.#totals.report(this.#summary.skipped, false)
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
      this.#totals.dirs++
      if (meta.parentId === 0) {
        this.#summary.dirs = this.#totals.dirs
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
}
