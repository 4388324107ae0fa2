import { randomUUID } from 'node:crypto'
import { hasControlChar, isSharePath } from '@harddrive-party/wire-protocol'
import type { StoreDatabases } from './database'
import { IndexStoreError } from './errors'
import type { IndexStoreLogger } from './logger'

export type WishlistState = 'queued' | 'active' | 'paused' | 'done' | 'failed'
export type WishlistFileState = 'queued' | 'active' | 'done' | 'failed'

/** A file (or the files of a directory) to download from a remote share path. */
export interface WishlistRequestInput {
  /** The remote peer: 32-byte public key or its 64-character hex form. */
  peer: Uint8Array | string
  /** Remote share path asked for. */
  path: string
  /** True for a directory request (then `files` lists what it holds). Default `false`. */
  dir?: boolean
  /** Size of the file, or total of the directory; default: sum of `files`. */
  size?: number
  /** Remote mtime (ms) of the file or directory, if known. */
  mtime?: number
  /**
   * Files to fetch, at or below `path`. A file request may leave it out when it gives `size`.
   * A directory request's files keep their order (the remote listing's order).
   */
  files?: { path: string; size: number; mtime?: number }[]
  /** Where the download goes on this machine (decided by the caller; stored as given). */
  destination: string
  /** Caller-chosen id (makes retrying an `add` after a crash safe); default: a random UUID. */
  id?: string
  /** 1-based queue position; default: last. */
  position?: number
}

/** A download request and its progress. */
export interface WishlistRequest {
  id: string
  /** Hex public key of the peer. */
  peer: string
  path: string
  dir: boolean
  destination: string
  size: number
  mtime?: number
  state: WishlistState
  /** Why the last file failed (kept until `resume`). */
  reason?: string
  files: number
  filesDone: number
  filesFailed: number
  /** Bytes downloaded over all files (a lower bound: progress is persisted every second). */
  bytesDone: number
  /** 1-based position among unfinished requests; absent when done or failed. */
  position?: number
  createdAt: number
  updatedAt: number
  finishedAt?: number
}

/** One file of a request. */
export interface WishlistFile {
  requestId: string
  /** Position of the file within its request (0-based). */
  index: number
  peer: string
  destination: string
  path: string
  size: number
  mtime?: number
  state: WishlistFileState
  bytesDone: number
  reason?: string
  updatedAt: number
}

interface RequestRow {
  id: string
  peer: string
  path: string
  dir: boolean
  destination: string
  size: number
  mtime?: number
  rank: number
  paused: boolean
  files: number
  filesDone: number
  filesFailed: number
  filesActive: number
  bytesDone: number
  /** No file below this index is queued (speeds up `next` on big directory requests). */
  queuedFrom: number
  reason?: string
  createdAt: number
  updatedAt: number
  finishedAt?: number
}

interface ItemRow {
  path: string
  size: number
  mtime?: number
  state: WishlistFileState
  bytesDone: number
  reason?: string
  updatedAt: number
}

export interface WishlistOptions {
  /** How often pending `progress` values are written, in ms. Default 1000. */
  progressFlushMs?: number
}

const MAX_FILES = 1_000_000
const MAX_TEXT = 4096
const RANK_EPSILON = 1e-9
const HEX_KEY = /^[0-9a-f]{64}$/

function isUint(n: unknown): n is number {
  return typeof n === 'number' && Number.isSafeInteger(n) && n >= 0
}

function bad(message: string): never {
  throw new IndexStoreError('BAD_REQUEST', message)
}

function peerHex(peer: unknown): string {
  if (peer instanceof Uint8Array) {
    if (peer.length !== 32) bad(`a peer key is 32 bytes, got ${peer.length}`)
    return Buffer.from(peer).toString('hex')
  }
  if (typeof peer === 'string') {
    const hex = peer.toLowerCase()
    if (!HEX_KEY.test(hex)) bad('a peer key is 64 hex characters')
    return hex
  }
  return bad('a peer key must be a Uint8Array or a hex string')
}

function stateOf(r: RequestRow): WishlistState {
  if (r.filesDone === r.files) return 'done'
  if (r.paused) return 'paused'
  if (r.filesActive > 0) return 'active'
  if (r.filesDone + r.filesFailed === r.files) return 'failed'
  return 'queued'
}

function isFinished(r: RequestRow): boolean {
  const s = stateOf(r)
  return s === 'done' || s === 'failed'
}

function toRequest(r: RequestRow, position: number | undefined): WishlistRequest {
  const out: WishlistRequest = {
    id: r.id,
    peer: r.peer,
    path: r.path,
    dir: r.dir,
    destination: r.destination,
    size: r.size,
    state: stateOf(r),
    files: r.files,
    filesDone: r.filesDone,
    filesFailed: r.filesFailed,
    bytesDone: r.bytesDone,
    createdAt: r.createdAt,
    updatedAt: r.updatedAt,
  }
  if (r.mtime !== undefined) out.mtime = r.mtime
  if (r.reason !== undefined) out.reason = r.reason
  if (position !== undefined) out.position = position
  if (r.finishedAt !== undefined) out.finishedAt = r.finishedAt
  return out
}

function toFile(r: RequestRow, index: number, item: ItemRow): WishlistFile {
  const out: WishlistFile = {
    requestId: r.id,
    index,
    peer: r.peer,
    destination: r.destination,
    path: item.path,
    size: item.size,
    state: item.state,
    bytesDone: item.bytesDone,
    updatedAt: item.updatedAt,
  }
  if (item.mtime !== undefined) out.mtime = item.mtime
  if (item.reason !== undefined) out.reason = item.reason
  return out
}

/**
 * The download queue's memory. Every change is one LMDB transaction, so a kill -9 at any
 * moment leaves each request either fully there (with all its files) or not there at all.
 * Download progress is the exception by design: it changes many times a second, so it is
 * kept in memory and written for all files at once every `progressFlushMs` (and on every
 * state change and on close); after a crash it may lag by that much, never run ahead.
 */
export class Wishlist {
  readonly #dbs: StoreDatabases
  readonly #log: IndexStoreLogger
  readonly #flushMs: number
  readonly #progress = new Map<string, { id: string; index: number; bytes: number }>()
  #flushTimer: NodeJS.Timeout | undefined
  #flushing: Promise<void> | undefined
  #closed = false

  /** @internal Left out of the published .d.ts (stripInternal): `dbs` holds lmdb's types. */
  constructor(dbs: StoreDatabases, log: IndexStoreLogger, options: WishlistOptions = {}) {
    this.#dbs = dbs
    this.#log = log
    this.#flushMs = options.progressFlushMs ?? 1000
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

  /** Ranks in queue order, with each request row. */
  *#queue(): Generator<{ rank: number; row: RequestRow }> {
    for (const { key } of this.#dbs.queue.getRange({})) {
      const row = this.#row(key[1])
      if (row !== undefined) yield { rank: key[0], row }
    }
  }

  /** The rank that puts a request at 1-based `position` among unfinished requests. */
  #rankFor(position: number | undefined, exclude?: string): number {
    let before: number | undefined
    let seen = 0
    let last = 0
    for (const { rank, row } of this.#queue()) {
      last = rank
      if (row.id === exclude || isFinished(row)) continue
      seen++
      if (position !== undefined && seen === position) {
        const lo = before ?? rank - 1
        if (rank - lo < RANK_EPSILON) return this.#renumber(position, exclude)
        return (lo + rank) / 2
      }
      before = rank
    }
    return last + 1
  }

  /** Gives every request an integer rank again (inside the caller's transaction). */
  #renumber(position: number, exclude?: string): number {
    let next = 1
    let seen = 0
    let wanted = 0
    for (const { rank, row } of [...this.#queue()]) {
      void this.#dbs.queue.remove([rank, row.id])
      if (row.id !== exclude && !isFinished(row)) {
        seen++
        if (seen === position) wanted = next++
      }
      const r = next++
      void this.#dbs.queue.put([r, row.id], true)
      this.#putRow({ ...row, rank: r })
    }
    return wanted === 0 ? next : wanted
  }

  /** Adds a request with all its files in one transaction. */
  async add(
    input: WishlistRequestInput,
    options: { signal?: AbortSignal } = {},
  ): Promise<WishlistRequest> {
    this.#check()
    options.signal?.throwIfAborted()
    if (typeof input !== 'object' || input === null) bad('a request must be an object')
    const peer = peerHex(input.peer)
    if (!isSharePath(input.path) || input.path === '')
      bad('path must be a share path below the root')
    const dir = input.dir === true
    if (
      typeof input.destination !== 'string' ||
      input.destination === '' ||
      input.destination.length > MAX_TEXT ||
      input.destination.includes('\u0000')
    ) {
      bad('destination must be a non-empty path')
    }
    const id = input.id ?? randomUUID()
    if (typeof id !== 'string' || id === '' || id.length > 128 || hasControlChar(id))
      bad('id must be 1 to 128 printable characters')
    if (input.mtime !== undefined && !isUint(input.mtime))
      bad('mtime must be a non-negative integer')
    if (input.position !== undefined && (!Number.isInteger(input.position) || input.position < 1)) {
      bad('position must be a positive integer')
    }
    let files = input.files
    if (files === undefined) {
      if (dir) bad('a directory request lists its files')
      if (!isUint(input.size)) bad('a file request needs its size')
      files = [
        {
          path: input.path,
          size: input.size,
          ...(input.mtime === undefined ? {} : { mtime: input.mtime }),
        },
      ]
    }
    if (!Array.isArray(files) || files.length > MAX_FILES)
      bad(`files must be an array of at most ${MAX_FILES}`)
    if (!dir && files.length !== 1) bad('a file request has exactly one file')
    const prefix = `${input.path}/`
    let total = 0
    for (const f of files) {
      if (typeof f !== 'object' || f === null || !isUint(f.size)) bad('each file needs a size')
      if (f.mtime !== undefined && !isUint(f.mtime))
        bad('a file mtime must be a non-negative integer')
      const inside = dir
        ? typeof f.path === 'string' && f.path.startsWith(prefix)
        : f.path === input.path
      if (!inside || !isSharePath(f.path))
        bad(`file ${JSON.stringify(f.path)} is not ${dir ? 'below' : ''} ${input.path}`)
      total += f.size
    }
    const size = input.size ?? total
    if (!isUint(size)) bad('size must be a non-negative integer')
    const list = files
    const now = Date.now()
    const row = await this.#txn(() => {
      if (this.#row(id) !== undefined) {
        throw new IndexStoreError(
          'DUPLICATE_REQUEST',
          `a wishlist request ${JSON.stringify(id)} exists`,
        )
      }
      const row: RequestRow = {
        id,
        peer,
        path: input.path,
        dir,
        destination: input.destination,
        size,
        rank: this.#rankFor(input.position),
        paused: false,
        files: list.length,
        filesDone: 0,
        filesFailed: 0,
        filesActive: 0,
        bytesDone: 0,
        queuedFrom: 0,
        createdAt: now,
        updatedAt: now,
      }
      if (input.mtime !== undefined) row.mtime = input.mtime
      if (list.length === 0) row.finishedAt = now
      list.forEach((f, index) => {
        const item: ItemRow = {
          path: f.path,
          size: f.size,
          state: 'queued',
          bytesDone: 0,
          updatedAt: now,
        }
        if (f.mtime !== undefined) item.mtime = f.mtime
        this.#putItem(id, index, item)
      })
      void this.#dbs.queue.put([row.rank, id], true)
      this.#putRow(row)
      return row
    })
    return toRequest(row, this.#positionOf(row))
  }

  #positionOf(row: RequestRow): number | undefined {
    if (isFinished(row)) return undefined
    let n = 0
    for (const { row: r } of this.#queue()) {
      if (isFinished(r)) continue
      n++
      if (r.id === row.id) return n
    }
    return undefined
  }

  get(id: string): WishlistRequest | undefined {
    this.#check()
    const row = this.#row(id)
    return row === undefined ? undefined : toRequest(row, this.#positionOf(row))
  }

  /** Requests in queue order (finished ones too, where they stood), optionally for one peer. */
  async *list(
    options: { peer?: Uint8Array | string; signal?: AbortSignal } = {},
  ): AsyncGenerator<WishlistRequest> {
    this.#check()
    const peer = options.peer === undefined ? undefined : peerHex(options.peer)
    // Snapshot first: an LMDB read must not stay open while the consumer awaits.
    const rows = [...this.#queue()].map(({ row }) => row)
    let position = 0
    for (const row of rows) {
      options.signal?.throwIfAborted()
      const finished = isFinished(row)
      if (!finished) position++
      if (peer !== undefined && row.peer !== peer) continue
      yield toRequest(row, finished ? undefined : position)
    }
  }

  /** The files of a request, in order. */
  async *files(id: string, options: { signal?: AbortSignal } = {}): AsyncGenerator<WishlistFile> {
    this.#check()
    const row = this.#mustRow(id)
    const PAGE = 512
    for (let from = 0; from < row.files; from += PAGE) {
      options.signal?.throwIfAborted()
      const page: WishlistFile[] = []
      for (const { key, value } of this.#dbs.items.getRange({
        start: [id, from],
        end: [id, from + PAGE],
      })) {
        page.push(toFile(row, key[1], value as ItemRow))
      }
      yield* page
    }
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
    for (const { row } of this.#queue()) {
      if (peer !== undefined && row.peer !== peer) continue
      const s = stateOf(row)
      if (s !== 'queued' && s !== 'active') continue
      if (row.filesDone + row.filesFailed + row.filesActive >= row.files) continue
      for (const { key, value } of this.#dbs.items.getRange({
        start: [row.id, row.queuedFrom],
        end: [row.id, row.files],
      })) {
        const item = value as ItemRow
        if (item.state !== 'queued') continue
        if (options.exclude?.has(`${row.id}/${key[1]}`)) continue
        return toFile(row, key[1], item)
      }
    }
    return undefined
  }

  /** Applies pending progress of one file inside the current transaction. */
  #applyProgress(row: RequestRow, index: number, item: ItemRow): void {
    const key = `${row.id}\u0000${index}`
    const p = this.#progress.get(key)
    if (p === undefined) return
    this.#progress.delete(key)
    if (item.state !== 'active') return
    const bytes = Math.min(p.bytes, item.size)
    row.bytesDone += bytes - item.bytesDone
    item.bytesDone = bytes
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
    })
  }

  /** Marks a queued file as being downloaded. */
  start(id: string, index: number): Promise<WishlistFile> {
    return this.#fileChange(id, index, (row, item) => {
      if (row.paused) throw new IndexStoreError('INVALID_STATE', `request ${id} is paused`)
      if (item.state !== 'queued')
        throw new IndexStoreError('INVALID_STATE', `file ${index} of ${id} is ${item.state}`)
      item.state = 'active'
      row.filesActive++
    })
  }

  /**
   * Records bytes downloaded so far for an active file. Cheap: kept in memory and written
   * with every other pending value at most once per `progressFlushMs`.
   */
  progress(id: string, index: number, bytesDone: number): void {
    this.#check()
    if (!isUint(bytesDone)) throw new TypeError('bytesDone must be a non-negative integer')
    this.#progress.set(`${id}\u0000${index}`, { id, index, bytes: bytesDone })
    this.#flushTimer ??= setTimeout(() => {
      this.#flushTimer = undefined
      this.flush().catch((err) => this.#log.error('progress flush failed: %O', err))
    }, this.#flushMs)
    this.#flushTimer.unref?.()
  }

  /** Writes pending progress now (one transaction for all files). */
  async flush(): Promise<void> {
    if (this.#progress.size === 0) return
    await this.#flushing
    const keys = [...this.#progress.keys()]
    const run = this.#dbs.env.transaction(() => {
      const rows = new Map<string, RequestRow>()
      const now = Date.now()
      for (const key of keys) {
        const p = this.#progress.get(key)
        if (p === undefined) continue // a state change applied it meanwhile
        const row = rows.get(p.id) ?? this.#row(p.id)
        const item = this.#item(p.id, p.index)
        if (row === undefined || item === undefined) {
          this.#progress.delete(key)
          continue
        }
        rows.set(p.id, row)
        this.#applyProgress(row, p.index, item)
        item.updatedAt = now
        this.#putItem(p.id, p.index, item)
      }
      for (const row of rows.values()) this.#putRow(row)
    })
    this.#flushing = run.then(
      () => {},
      () => {},
    )
    await run
  }

  /** Marks a file downloaded (bytes done = size). */
  complete(id: string, index: number): Promise<WishlistFile> {
    return this.#fileChange(id, index, (row, item) => {
      if (item.state === 'done') return
      if (item.state === 'active') row.filesActive--
      if (item.state === 'failed') row.filesFailed--
      row.bytesDone += item.size - item.bytesDone
      item.bytesDone = item.size
      item.state = 'done'
      delete item.reason
      row.filesDone++
    })
  }

  /** Marks a file failed with a reason; `resume` queues it again. */
  fail(id: string, index: number, reason: string): Promise<WishlistFile> {
    const why = typeof reason === 'string' ? reason.slice(0, 1024) : 'failed'
    return this.#fileChange(id, index, (row, item) => {
      if (item.state === 'done')
        throw new IndexStoreError('INVALID_STATE', `file ${index} of ${id} is done`)
      if (item.state === 'active') row.filesActive--
      if (item.state !== 'failed') row.filesFailed++
      item.state = 'failed'
      item.reason = why
      row.reason = why
    })
  }

  /** Stops a request: its active files go back to queued; `next` skips it until `resume`. */
  pause(id: string): Promise<WishlistRequest> {
    return this.#requestChange(id, (row) => {
      row.paused = true
      if (row.filesActive === 0) return
      let lowest = row.queuedFrom
      for (const { key, value } of [
        ...this.#dbs.items.getRange({ start: [id, 0], end: [id, row.files] }),
      ]) {
        const item = value as ItemRow
        if (item.state !== 'active') continue
        this.#applyProgress(row, key[1], item)
        item.state = 'queued'
        item.updatedAt = Date.now()
        this.#putItem(id, key[1], item)
        lowest = Math.min(lowest, key[1])
      }
      row.filesActive = 0
      row.queuedFrom = lowest
    })
  }

  /** Lets a paused request run again and queues its failed files for another try. */
  resume(id: string): Promise<WishlistRequest> {
    return this.#requestChange(id, (row) => {
      row.paused = false
      if (row.filesFailed === 0) return
      for (const { key, value } of [
        ...this.#dbs.items.getRange({ start: [id, 0], end: [id, row.files] }),
      ]) {
        const item = value as ItemRow
        if (item.state !== 'failed') continue
        item.state = 'queued'
        delete item.reason
        item.updatedAt = Date.now()
        this.#putItem(id, key[1], item)
        row.queuedFrom = Math.min(row.queuedFrom, key[1])
      }
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
      const rank = this.#rankFor(position, id)
      // #rankFor may have renumbered everything, this row included.
      const current = this.#row(id) as RequestRow
      void this.#dbs.queue.remove([current.rank, id])
      void this.#dbs.queue.put([rank, id], true)
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
        this.#progress.delete(`${id}\u0000${key[1]}`)
      }
      void this.#dbs.queue.remove([row.rank, id])
      void this.#dbs.requests.remove(id)
      return true
    })
  }

  #requestChange(id: string, change: (row: RequestRow) => void): Promise<WishlistRequest> {
    return this.#txn(() => {
      const row = this.#mustRow(id)
      change(row)
      row.updatedAt = Date.now()
      this.#putRow(row)
      return row
    }).then((row) => toRequest(row, this.#positionOf(row)))
  }

  /** After a restart nothing is downloading: active files go back to queued. */
  async recover(): Promise<number> {
    let fixed = 0
    await this.#txn(() => {
      for (const { row } of [...this.#queue()]) {
        if (row.filesActive === 0) continue
        for (const { key, value } of [
          ...this.#dbs.items.getRange({ start: [row.id, 0], end: [row.id, row.files] }),
        ]) {
          const item = value as ItemRow
          if (item.state !== 'active') continue
          item.state = 'queued'
          this.#putItem(row.id, key[1], item)
          row.queuedFrom = Math.min(row.queuedFrom, key[1])
          fixed++
        }
        row.filesActive = 0
        this.#putRow(row)
      }
    })
    return fixed
  }

  async close(): Promise<void> {
    if (this.#closed) return
    if (this.#flushTimer !== undefined) clearTimeout(this.#flushTimer)
    this.#flushTimer = undefined
    await this.flush().catch((err) => this.#log.error('progress flush failed: %O', err))
    this.#closed = true
  }
}
