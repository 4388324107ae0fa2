import type { Logger } from '@harddrive-party/wire-protocol'
import { TypedEventEmitter } from 'main-event'
import type { StoreDatabases } from './database'
import { IndexStoreError } from './errors'
import {
  type ClaimOptions,
  claimFiles,
  completeFiles,
  requeueFiles,
  type WishlistAppend,
  type WishlistEvents,
} from './wishlist-claims'
import {
  bad,
  checkFiles,
  checkRequestInput,
  isUint,
  peerHex,
  type WishlistRequestInput,
} from './wishlist-input'
import { applyPending, keyOf, PendingProgress, writePending } from './wishlist-progress'
import { WishlistQueue } from './wishlist-queue'
import { listRequests, nextFile, requestFiles } from './wishlist-reads'
import {
  type ItemRow,
  isFinished,
  newItemRow,
  newRequestRow,
  type RequestRow,
  stateOf,
  toFile,
  toRequest,
  type WishlistFile,
  type WishlistRequest,
} from './wishlist-rows'
import { changeFile, completeFile, failFile, releaseFile, startFile } from './wishlist-transitions'

export interface WishlistOptions {
  /** How often pending `progress` values are written, in ms. Default 1000. */
  progressFlushMs?: number
}

/**
 * The download queue's memory. Every change is one LMDB transaction, so a kill -9 at any
 * moment leaves each request either fully there (with all its files) or not there at all.
 * Download progress is the exception by design: it changes many times a second, so it is
 * kept in memory and written for all files at once every `progressFlushMs` (and on every
 * state change and on close); after a crash it may lag by that much, never run ahead.
 */
export class Wishlist extends TypedEventEmitter<WishlistEvents> {
  readonly #dbs: StoreDatabases
  readonly #log: Logger
  readonly #queue: WishlistQueue
  readonly #progress: PendingProgress
  #flushing: Promise<void> | undefined
  #closed = false

  /** @internal Left out of the published .d.ts (stripInternal): `dbs` holds lmdb's types. */
  constructor(dbs: StoreDatabases, log: Logger, options: WishlistOptions = {}) {
    super()
    this.#dbs = dbs
    this.#log = log
    this.#queue = new WishlistQueue(dbs)
    this.#progress = new PendingProgress(options.progressFlushMs ?? 1000, () => {
      this.flush().catch((err) => this.#log.error('progress flush failed: %O', err))
    })
  }

  #check(): void {
    if (this.#closed) throw new IndexStoreError('CLOSED', 'the store is closed')
  }

  #row(id: string): RequestRow | undefined {
    return this.#dbs.requests.get(id) as RequestRow | undefined
  }

  #mustRow(id: string): RequestRow {
    const row = typeof id === 'string' ? this.#row(id) : undefined
    if (row === undefined)
      throw new IndexStoreError('UNKNOWN_REQUEST', `no wishlist request ${JSON.stringify(id)}`)
    return row
  }

  #item(id: string, index: number): ItemRow | undefined {
    return this.#dbs.items.get([id, index]) as ItemRow | undefined
  }

  #putRow(row: RequestRow): void {
    void this.#dbs.requests.put(row.id, row)
  }

  #putItem(id: string, index: number, item: ItemRow): void {
    void this.#dbs.items.put([id, index], item)
  }

  /** Runs `fn` in one write transaction and returns its result once committed. */
  #txn<T>(fn: () => T): Promise<T> {
    this.#check()
    return this.#dbs.env.transaction(fn)
  }

  #changed(id: string, removed = false): void {
    this.safeDispatchEvent('change', { detail: { id, removed } })
  }

  /** Adds a request with all its files in one transaction. */
  async add(
    input: WishlistRequestInput,
    options: { signal?: AbortSignal } = {},
  ): Promise<WishlistRequest> {
    this.#check()
    options.signal?.throwIfAborted()
    const checked = checkRequestInput(input)
    const { id, files: list } = checked
    const now = Date.now()
    const row = await this.#txn(() => {
      if (this.#row(id) !== undefined) {
        throw new IndexStoreError(
          'DUPLICATE_REQUEST',
          `a wishlist request ${JSON.stringify(id)} exists`,
        )
      }
      const row = newRequestRow(checked, this.#queue.rankFor(checked.position), now)
      list.forEach((f, index) => {
        this.#putItem(id, index, newItemRow(f, now))
      })
      this.#queue.put(row.rank, id)
      this.#putRow(row)
      return row
    })
    this.#changed(id)
    return toRequest(row, this.#queue.positionOf(row))
  }

  get(id: string): WishlistRequest | undefined {
    this.#check()
    const row = this.#row(id)
    return row === undefined ? undefined : toRequest(row, this.#queue.positionOf(row))
  }

  /** Requests in queue order (finished ones too, where they stood), optionally for one peer. */
  async *list(
    options: { peer?: Uint8Array | string; signal?: AbortSignal } = {},
  ): AsyncGenerator<WishlistRequest> {
    this.#check()
    const peer = options.peer === undefined ? undefined : peerHex(options.peer)
    yield* listRequests(this.#queue, { peer, signal: options.signal })
  }

  /** The files of a request, in order. */
  async *files(id: string, options: { signal?: AbortSignal } = {}): AsyncGenerator<WishlistFile> {
    this.#check()
    yield* requestFiles(this.#dbs, this.#mustRow(id), options.signal)
  }

  /**
   * The next file to download: the first queued file of the first unfinished, unpaused request
   * (of `peer`, if given), skipping files in `exclude` (keys `"<requestId>/<index>"`).
   */
  next(
    options: { peer?: Uint8Array | string; exclude?: ReadonlySet<string> } = {},
  ): WishlistFile | undefined {
    this.#check()
    const peer = options.peer === undefined ? undefined : peerHex(options.peer)
    return nextFile(this.#dbs, this.#queue, { peer, exclude: options.exclude })
  }

  /** Applies pending progress of one file inside the current transaction. */
  #applyProgress(row: RequestRow, index: number, item: ItemRow): void {
    applyPending(this.#progress, row, index, item)
  }

  /** A state change of one file, in one transaction. */
  #fileChange(
    id: string,
    index: number,
    change: (row: RequestRow, item: ItemRow) => void,
  ): Promise<WishlistFile> {
    return this.#txn(() => {
      const row = this.#mustRow(id)
      const item = Number.isInteger(index) ? this.#item(id, index) : undefined
      if (item === undefined)
        throw new IndexStoreError('UNKNOWN_REQUEST', `request ${id} has no file ${index}`)
      this.#applyProgress(row, index, item)
      change(row, item)
      const now = Date.now()
      item.updatedAt = now
      row.updatedAt = now
      if (stateOf(row) === 'done') row.finishedAt ??= now
      this.#putItem(id, index, item)
      this.#putRow(row)
      return toFile(row, index, item)
    }).then((file) => {
      this.#changed(id)
      return file
    })
  }

  /**
   * Atomically finds the next queued file (as {@link next}) and marks it active, so two download
   * loops never take the same file. Undefined when nothing is queued.
   */
  async claim(
    options: { peer?: Uint8Array | string; exclude?: ReadonlySet<string> } = {},
  ): Promise<WishlistFile | undefined> {
    return (await this.claimMany({ ...options, maxFiles: 1 }))[0]
  }

  /**
   * Like {@link claim}, several files of one request at once (up to `maxFiles` and `maxBytes`,
   * at least one): a loop fetching small files pays one transaction per batch, not per file.
   */
  async claimMany(
    options: Omit<ClaimOptions, 'peer'> & { peer?: Uint8Array | string } = {},
  ): Promise<WishlistFile[]> {
    const { peer, ...rest } = options
    const checked = peer === undefined ? rest : { ...rest, peer: peerHex(peer) }
    const files = await this.#txn(() => claimFiles(this.#dbs, this.#queue, checked))
    if (files[0] !== undefined) this.#changed(files[0].requestId)
    return files
  }

  /** Marks several files downloaded in one transaction. */
  async completeMany(files: readonly { requestId: string; index: number }[]): Promise<void> {
    if (files.length === 0) return
    const ids = await this.#txn(() =>
      completeFiles(this.#dbs, files, (row, index, item) => this.#applyProgress(row, index, item)),
    )
    for (const id of ids) this.#changed(id)
  }

  /** Puts an active file back in the queue (the reason was not the file's: peer gone, disk full). */
  release(id: string, index: number): Promise<WishlistFile> {
    return this.#fileChange(id, index, (row, item) => releaseFile(row, item, index))
  }

  /** The remote file changed: new size and mtime, its downloaded bytes back to 0. */
  updateFile(
    id: string,
    index: number,
    to: { size: number; mtime?: number },
  ): Promise<WishlistFile> {
    checkFiles([{ path: 'x', ...to }], 'x', false, true)
    return this.#fileChange(id, index, (row, item) => {
      this.#progress.take(id, index)
      changeFile(row, item, index, to)
    })
  }

  /**
   * Appends a page of files to an `expand` request, with the listing's cursor, in one
   * transaction: after a crash the expansion continues from the last page written.
   */
  async appendFiles(id: string, page: WishlistAppend): Promise<WishlistRequest> {
    return this.#requestChange(id, (row) => {
      if (row.expanding !== true)
        throw new IndexStoreError('INVALID_STATE', `request ${id} is not expanding`)
      if (page.dir !== undefined) row.dir = page.dir
      row.size += checkFiles(page.files, row.path, row.dir, true)
      const now = Date.now()
      for (const f of page.files) this.#putItem(id, row.files++, newItemRow(f, now))
      if (page.cursor === undefined) delete row.cursor
      else row.cursor = page.cursor
      if (page.done) {
        delete row.expanding
        delete row.cursor
        if (isFinished(row)) row.finishedAt ??= now
      }
    })
  }

  /** Marks a queued file as being downloaded. */
  start(id: string, index: number): Promise<WishlistFile> {
    return this.#fileChange(id, index, (row, item) => startFile(row, item, index))
  }

  /**
   * Records bytes downloaded so far for an active file. Cheap: kept in memory and written
   * with every other pending value at most once per `progressFlushMs`.
   */
  progress(id: string, index: number, bytesDone: number): void {
    this.#check()
    if (!isUint(bytesDone)) throw new TypeError('bytesDone must be a non-negative integer')
    this.#progress.set(id, index, bytesDone)
  }

  /** Writes pending progress now (one transaction for all files). */
  async flush(): Promise<void> {
    if (this.#progress.size === 0) return
    await this.#flushing
    const keys = this.#progress.keys()
    const run = this.#dbs.env.transaction(() => writePending(this.#dbs, this.#progress, keys))
    this.#flushing = run.then(
      () => {},
      () => {},
    )
    await run
  }

  /** Marks a file downloaded (bytes done = size). */
  complete(id: string, index: number): Promise<WishlistFile> {
    return this.#fileChange(id, index, completeFile)
  }

  /** Marks a file failed with a reason; `resume` queues it again. */
  fail(id: string, index: number, reason: string): Promise<WishlistFile> {
    const why = typeof reason === 'string' ? reason.slice(0, 1024) : 'failed'
    return this.#fileChange(id, index, (row, item) => failFile(row, item, index, why))
  }

  /** Stops a request: its active files go back to queued; `next` skips it until `resume`. */
  pause(id: string): Promise<WishlistRequest> {
    return this.#requestChange(id, (row) => {
      row.paused = true
      if (row.filesActive === 0) return
      requeueFiles(this.#dbs, row, 'active', (index, item) => this.#applyProgress(row, index, item))
      row.filesActive = 0
    })
  }

  /** Lets a paused request run again and queues its failed files for another try. */
  resume(id: string): Promise<WishlistRequest> {
    return this.#requestChange(id, (row) => {
      row.paused = false
      if (row.filesFailed === 0) return
      requeueFiles(this.#dbs, row, 'failed')
      row.filesFailed = 0
      delete row.reason
      delete row.finishedAt
    })
  }

  /** Moves an unfinished request to a 1-based position among unfinished requests. */
  reorder(id: string, position: number): Promise<WishlistRequest> {
    if (!Number.isInteger(position) || position < 1) bad('position must be a positive integer')
    return this.#requestChange(id, (row) => {
      if (isFinished(row))
        throw new IndexStoreError('INVALID_STATE', `request ${id} is ${stateOf(row)}`)
      const rank = this.#queue.rankFor(position, id)
      // rankFor may have renumbered everything, this row included.
      const current = this.#row(id) as RequestRow
      this.#queue.remove(current.rank, id)
      this.#queue.put(rank, id)
      row.rank = rank
    })
  }

  /** Forgets a request and all its files (whatever its state). False when unknown. */
  cancel(id: string): Promise<boolean> {
    return this.#txn(() => {
      const row = this.#row(id)
      if (row === undefined) return false
      for (const key of [...this.#dbs.items.getKeys({ start: [id, 0], end: [id, row.files] })]) {
        void this.#dbs.items.remove(key)
        this.#progress.delete(keyOf(id, key[1]))
      }
      this.#queue.remove(row.rank, id)
      void this.#dbs.requests.remove(id)
      return true
    }).then((removed) => {
      if (removed) this.#changed(id, true)
      return removed
    })
  }

  #requestChange(id: string, change: (row: RequestRow) => void): Promise<WishlistRequest> {
    return this.#txn(() => {
      const row = this.#mustRow(id)
      change(row)
      row.updatedAt = Date.now()
      this.#putRow(row)
      return row
    }).then((row) => {
      this.#changed(id)
      return toRequest(row, this.#queue.positionOf(row))
    })
  }

  /** After a restart nothing is downloading: active files go back to queued. */
  async recover(): Promise<number> {
    let fixed = 0
    await this.#txn(() => {
      for (const { row } of [...this.#queue.entries()]) {
        if (row.filesActive === 0) continue
        fixed += requeueFiles(this.#dbs, row, 'active')
        row.filesActive = 0
        this.#putRow(row)
      }
    })
    return fixed
  }

  async close(): Promise<void> {
    if (this.#closed) return
    this.#progress.stopTimer()
    await this.flush().catch((err) => this.#log.error('progress flush failed: %O', err))
    this.#closed = true
  }
}
