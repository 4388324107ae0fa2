import type { IndexStore } from '@harddrive-party/index-store'
import type { Entry, LsRequest } from '@harddrive-party/wire-protocol'
import { lsLimit } from '@harddrive-party/wire-protocol/internal'
import type { AnswerStream } from './answer-stream'

/** An `entries` frame stays far below the 1 MiB frame limit whatever the path lengths. */
const MAX_FRAME_ENTRIES = 512
const MAX_FRAME_ESTIMATE_BYTES = 128 * 1024
/** CBOR bytes of an entry besides its path: keys, size, mtime, files, map head. */
const ENTRY_OVERHEAD_BYTES = 64

/**
 * Answers `ls` (and `ls` with `search`) from the index: one page of at most the request's limit,
 * in `entries` frames written with backpressure as the index hands them out, then `end` with
 * the cursor that continues the listing.
 */
export async function serveList(
  store: IndexStore,
  request: LsRequest,
  answer: AnswerStream,
  signal: AbortSignal,
): Promise<void> {
  const limit = lsLimit(request)
  const cursor = request.cursor === undefined ? {} : { cursor: request.cursor }
  const entries =
    request.search === undefined
      ? store.ls(request.path, { recursive: request.recursive, limit, signal, ...cursor })
      : store.search(request.search, { path: request.path, limit, signal, ...cursor })
  let batch: Entry[] = []
  let batchBytes = 0
  for await (const entry of entries) {
    batch.push(entry)
    batchBytes += Buffer.byteLength(entry.path) + ENTRY_OVERHEAD_BYTES
    if (batch.length >= MAX_FRAME_ENTRIES || batchBytes >= MAX_FRAME_ESTIMATE_BYTES) {
      await answer.writeMessage({ type: 'entries', entries: batch })
      batch = []
      batchBytes = 0
    }
  }
  if (batch.length > 0) await answer.writeMessage({ type: 'entries', entries: batch })
  const next = entries.cursor
  await answer.writeMessage(next === undefined ? { type: 'end' } : { type: 'end', cursor: next })
  await answer.end()
}
