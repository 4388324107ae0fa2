import type { CheckedRequestInput } from './wishlist-input'

/**
 * What the wishlist stores in LMDB (one row per request, one per file) and how a stored row
 * reads back as the public {@link WishlistRequest} / {@link WishlistFile}.
 */

export type WishlistState = 'queued' | 'active' | 'paused' | 'done' | 'failed'
export type WishlistFileState = 'queued' | 'active' | 'done' | 'failed'

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
  /** Why the last file failed, or why the request did (kept until `resume`). */
  reason?: string
  /**
   * Set when the request itself failed, not one of its files: the code its listing ended with
   * (see {@link WishlistAppend.failure}), e.g. the path is gone or lists nothing.
   */
  code?: string
  files: number
  filesDone: number
  filesFailed: number
  /** Bytes downloaded over all files (a lower bound: progress is persisted every second). */
  bytesDone: number
  /** 1-based position among unfinished requests; absent when done or failed. */
  position?: number
  /** True while files are still being appended (an `expand` request before its last page). */
  expanding: boolean
  /** Where the expansion continues (the remote listing's cursor), kept with the appended files. */
  cursor?: Uint8Array
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

/**
 * A request as stored under its id (`requests` table): the public fields but the derived ones
 * (`state` comes from the counters, `position` from the queue), plus queue bookkeeping.
 */
export interface RequestRow extends Omit<WishlistRequest, 'state' | 'position' | 'expanding'> {
  /** Absent in rows written before expansion existed. */
  expanding?: boolean
  rank: number
  paused: boolean
  filesActive: number
  /** No file below this index is queued (speeds up `next` on big directory requests). */
  queuedFrom: number
}

/** A file as stored under `[request id, index]` (`items` table): what its key and request do not say. */
export type ItemRow = Omit<WishlistFile, 'requestId' | 'index' | 'peer' | 'destination'>

export function stateOf(r: RequestRow): WishlistState {
  const listed = r.expanding !== true
  if (r.code !== undefined && listed && r.filesDone + r.filesFailed === r.files) return 'failed'
  if (r.filesDone === r.files && listed) return 'done'
  if (r.paused) return 'paused'
  if (r.filesActive > 0) return 'active'
  if (r.filesDone + r.filesFailed === r.files && listed) return 'failed'
  return 'queued'
}

export function isFinished(r: RequestRow): boolean {
  const s = stateOf(r)
  return s === 'done' || s === 'failed'
}

export function toRequest(r: RequestRow, position: number | undefined): WishlistRequest {
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
    expanding: r.expanding === true,
    createdAt: r.createdAt,
    updatedAt: r.updatedAt,
  }
  if (r.cursor !== undefined) out.cursor = r.cursor
  if (r.mtime !== undefined) out.mtime = r.mtime
  if (r.reason !== undefined) out.reason = r.reason
  if (r.code !== undefined) out.code = r.code
  if (position !== undefined) out.position = position
  if (r.finishedAt !== undefined) out.finishedAt = r.finishedAt
  return out
}

export function toFile(r: RequestRow, index: number, item: ItemRow): WishlistFile {
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

/** The row of a request just added: nothing done yet (finished at once when it has no files). */
export function newRequestRow(input: CheckedRequestInput, rank: number, now: number): RequestRow {
  const row: RequestRow = {
    id: input.id,
    peer: input.peer,
    path: input.path,
    dir: input.dir,
    destination: input.destination,
    size: input.size,
    rank,
    paused: false,
    files: input.files.length,
    filesDone: 0,
    filesFailed: 0,
    filesActive: 0,
    bytesDone: 0,
    queuedFrom: 0,
    createdAt: now,
    updatedAt: now,
  }
  if (input.mtime !== undefined) row.mtime = input.mtime
  if (input.expand) row.expanding = true
  else if (input.files.length === 0) row.finishedAt = now
  return row
}

/** The row of a file just added: queued, nothing downloaded. */
export function newItemRow(
  file: { path: string; size: number; mtime?: number },
  now: number,
): ItemRow {
  const item: ItemRow = {
    path: file.path,
    size: file.size,
    state: 'queued',
    bytesDone: 0,
    updatedAt: now,
  }
  if (file.mtime !== undefined) item.mtime = file.mtime
  return item
}

export interface WishlistOptions {
  /** How often pending `progress` values are written, in ms. Default 1000. */
  progressFlushMs?: number
}
