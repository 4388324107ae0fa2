import type { StoreDatabases } from './database'
import { IndexStoreError } from './errors'
import type { WishlistQueue } from './wishlist-queue'
import { type ItemRow, type RequestRow, stateOf, toFile, type WishlistFile } from './wishlist-rows'
import { completeFile, startFile } from './wishlist-transitions'

export interface WishlistEvents {
  /** A request was added, removed or changed (state, counters, files); not sent for `progress`. */
  change: CustomEvent<{ id: string; removed: boolean }>
}

/** A page of an expanding request's files (see {@link Wishlist.appendFiles}). */
export interface WishlistAppend {
  files: { path: string; size: number; mtime?: number }[]
  /** Where the listing continues; kept with the files in the same transaction. */
  cursor?: Uint8Array
  /** True with the last page: the request can finish once its files do. */
  done: boolean
  /** What the listing found the path to be (a file is appended as itself). */
  dir?: boolean
  /**
   * With `done`: the listing found nothing to download (the path is gone, or lists nothing).
   * The request ends `failed` with this `code` and `reason` once its files (if any) end;
   * `resume` lists it again.
   */
  failure?: { code: string; reason: string }
}

/** What a download loop may take at once (see {@link claimFiles}). */
export interface ClaimOptions {
  /** Only this peer's requests (hex). */
  peer?: string
  /** Files to skip, keys `"<requestId>/<index>"`. */
  exclude?: ReadonlySet<string>
  /** Files at most. Default 1. */
  maxFiles?: number
  /** Bytes at most (the first file is always taken, whatever its size). Default unlimited. */
  maxBytes?: number
}

/**
 * Inside the caller's write transaction: marks the next queued files of the first request with
 * work active and returns them (files of one request only, in order). Also moves the request's
 * `queuedFrom` to its first queued file (no queued file lies below it), so the next claim of a
 * huge folder starts there.
 */
export function claimFiles(
  dbs: StoreDatabases,
  queue: WishlistQueue,
  options: ClaimOptions,
): WishlistFile[] {
  const maxFiles = options.maxFiles ?? 1
  const maxBytes = options.maxBytes ?? Number.POSITIVE_INFINITY
  for (const { row } of queue.entries()) {
    if (options.peer !== undefined && row.peer !== options.peer) continue
    const s = stateOf(row)
    if (s !== 'queued' && s !== 'active') continue
    if (row.filesDone + row.filesFailed + row.filesActive >= row.files) continue
    const picked: { index: number; item: ItemRow }[] = []
    let bytes = 0
    let firstQueued: number | undefined
    let skipped = false
    for (const { key, value } of dbs.items.getRange({
      start: [row.id, row.queuedFrom],
      end: [row.id, row.files],
    })) {
      const item = value as ItemRow
      if (item.state !== 'queued') continue
      firstQueued ??= key[1] as number
      if (options.exclude?.has(`${row.id}/${key[1]}`)) {
        skipped = true
        continue
      }
      if (picked.length > 0 && bytes + item.size > maxBytes) break
      picked.push({ index: key[1] as number, item })
      bytes += item.size
      if (picked.length >= maxFiles) break
    }
    if (firstQueued !== undefined) row.queuedFrom = firstQueued
    if (picked.length === 0) continue
    // Every queued file from `firstQueued` to the last one picked is active now: the next claim
    // starts after them, instead of reading again the files the claims before it took (with
    // batches claimed ahead, hundreds per claim).
    if (!skipped) row.queuedFrom = picked[picked.length - 1]!.index + 1
    const now = Date.now()
    const out = picked.map(({ index, item }) => {
      startFile(row, item, index)
      item.updatedAt = now
      void dbs.items.put([row.id, index], item)
      return toFile(row, index, item)
    })
    row.updatedAt = now
    void dbs.requests.put(row.id, row)
    return out
  }
  return []
}

/**
 * Inside the caller's write transaction: marks files downloaded (one transaction for a batch of
 * small files instead of one each). `applyProgress` drops each file's pending progress.
 */
export function completeFiles(
  dbs: StoreDatabases,
  files: readonly { requestId: string; index: number }[],
  applyProgress: (row: RequestRow, index: number, item: ItemRow) => void,
): string[] {
  const rows = new Map<string, RequestRow>()
  const now = Date.now()
  for (const { requestId, index } of files) {
    const row = rows.get(requestId) ?? (dbs.requests.get(requestId) as RequestRow | undefined)
    const item = dbs.items.get([requestId, index]) as ItemRow | undefined
    if (row === undefined || item === undefined) {
      throw new IndexStoreError('UNKNOWN_REQUEST', `request ${requestId} has no file ${index}`)
    }
    rows.set(requestId, row)
    applyProgress(row, index, item)
    completeFile(row, item)
    item.updatedAt = now
    void dbs.items.put([requestId, index], item)
  }
  for (const row of rows.values()) {
    row.updatedAt = now
    if (stateOf(row) === 'done') row.finishedAt ??= now
    void dbs.requests.put(row.id, row)
  }
  return [...rows.keys()]
}

/**
 * Inside the caller's write transaction: puts a request's files in state `from` back in the
 * queue (`active` on pause and recovery, `failed` on resume), calling `each` first for each.
 * Keeps `queuedFrom` below them; returns how many moved. The request's counters are the
 * caller's to set.
 */
export function requeueFiles(
  dbs: StoreDatabases,
  row: RequestRow,
  from: 'active' | 'failed',
  each?: (index: number, item: ItemRow) => void,
): number {
  let moved = 0
  const now = Date.now()
  // A snapshot: the rows are written while going through them.
  for (const { key, value } of [
    ...dbs.items.getRange({ start: [row.id, 0], end: [row.id, row.files] }),
  ]) {
    const item = value as ItemRow
    if (item.state !== from) continue
    const index = key[1] as number
    each?.(index, item)
    item.state = 'queued'
    delete item.reason
    item.updatedAt = now
    void dbs.items.put([row.id, index], item)
    row.queuedFrom = Math.min(row.queuedFrom, index)
    moved++
  }
  return moved
}

/** Every active file of `rows` back to queued (after a restart nothing is downloading). */
export function requeueAllActive(
  dbs: StoreDatabases,
  rows: readonly RequestRow[],
  put: (row: RequestRow) => void,
): number {
  let fixed = 0
  for (const row of rows) {
    if (row.filesActive === 0) continue
    fixed += requeueFiles(dbs, row, 'active')
    row.filesActive = 0
    put(row)
  }
  return fixed
}
