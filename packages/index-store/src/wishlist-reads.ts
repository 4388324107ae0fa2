import type { StoreDatabases } from './database'
import type { WishlistQueue } from './wishlist-queue'
import {
  type ItemRow,
  isFinished,
  type RequestRow,
  stateOf,
  toFile,
  toRequest,
  type WishlistFile,
  type WishlistRequest,
} from './wishlist-rows'

/** Files are read in pages of this many, so no LMDB read stays open while a consumer awaits. */
const FILES_PAGE = 512

/** Requests in queue order (finished ones too, where they stood), optionally for one peer (hex). */
export async function* listRequests(
  queue: WishlistQueue,
  options: { peer?: string | undefined; signal?: AbortSignal | undefined },
): AsyncGenerator<WishlistRequest> {
  // Snapshot first: an LMDB read must not stay open while the consumer awaits.
  const rows = [...queue.entries()].map(({ row }) => row)
  let position = 0
  for (const row of rows) {
    options.signal?.throwIfAborted()
    const finished = isFinished(row)
    if (!finished) position++
    if (options.peer !== undefined && row.peer !== options.peer) continue
    yield toRequest(row, finished ? undefined : position)
  }
}

/** The files of a request, in order. */
export async function* requestFiles(
  dbs: StoreDatabases,
  row: RequestRow,
  signal: AbortSignal | undefined,
): AsyncGenerator<WishlistFile> {
  for (let from = 0; from < row.files; from += FILES_PAGE) {
    signal?.throwIfAborted()
    const page: WishlistFile[] = []
    for (const { key, value } of dbs.items.getRange({
      start: [row.id, from],
      end: [row.id, from + FILES_PAGE],
    })) {
      page.push(toFile(row, key[1], value as ItemRow))
    }
    yield* page
  }
}

/**
 * The next file to download: the first queued file of the first unfinished, unpaused request
 * (of `peer`, hex, if given), skipping files in `exclude` (keys `"<requestId>/<index>"`).
 */
export function nextFile(
  dbs: StoreDatabases,
  queue: WishlistQueue,
  options: { peer?: string | undefined; exclude?: ReadonlySet<string> | undefined },
): WishlistFile | undefined {
  for (const { row } of queue.entries()) {
    if (options.peer !== undefined && row.peer !== options.peer) continue
    const s = stateOf(row)
    if (s !== 'queued' && s !== 'active') continue
    if (row.filesDone + row.filesFailed + row.filesActive >= row.files) continue
    for (const { key, value } of dbs.items.getRange({
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
