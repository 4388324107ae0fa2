import { IndexStoreError } from './errors'
import type { ItemRow, RequestRow } from './wishlist-rows'

/**
 * A file's state changes and what each does to its request's counters (`filesActive`,
 * `filesDone`, `filesFailed`, `bytesDone`), applied to rows the caller writes back in the same
 * transaction. The request's state is derived from those counters.
 */

/** queued → active. */
export function startFile(row: RequestRow, item: ItemRow, index: number): void {
  if (row.paused) throw new IndexStoreError('INVALID_STATE', `request ${row.id} is paused`)
  if (item.state !== 'queued')
    throw new IndexStoreError('INVALID_STATE', `file ${index} of ${row.id} is ${item.state}`)
  item.state = 'active'
  row.filesActive++
}

/** any → done, with every byte counted. */
export function completeFile(row: RequestRow, item: ItemRow): void {
  if (item.state === 'done') return
  if (item.state === 'active') row.filesActive--
  if (item.state === 'failed') row.filesFailed--
  row.bytesDone += item.size - item.bytesDone
  item.bytesDone = item.size
  item.state = 'done'
  delete item.reason
  row.filesDone++
}

/** queued or active → failed, with the reason kept on the file and the request. */
export function failFile(row: RequestRow, item: ItemRow, index: number, why: string): void {
  if (item.state === 'done')
    throw new IndexStoreError('INVALID_STATE', `file ${index} of ${row.id} is done`)
  if (item.state === 'active') row.filesActive--
  if (item.state !== 'failed') row.filesFailed++
  item.state = 'failed'
  item.reason = why
  row.reason = why
}

/** Bytes downloaded of an active file (capped at its size); other states ignore progress. */
export function recordBytes(row: RequestRow, item: ItemRow, bytes: number): void {
  if (item.state !== 'active') return
  const capped = Math.min(bytes, item.size)
  row.bytesDone += capped - item.bytesDone
  item.bytesDone = capped
}

/** active → queued: the download stopped for a reason that is not the file's (peer gone, disk full). */
export function releaseFile(row: RequestRow, item: ItemRow, index: number): void {
  if (item.state !== 'active') return
  item.state = 'queued'
  row.filesActive--
  row.queuedFrom = Math.min(row.queuedFrom, index)
}

/**
 * The remote file is not what was expected (`CHANGED`): new size and mtime, nothing of it
 * downloaded. The request's size and bytes follow.
 */
export function changeFile(
  row: RequestRow,
  item: ItemRow,
  index: number,
  to: { size: number; mtime?: number },
): void {
  if (item.state === 'done')
    throw new IndexStoreError('INVALID_STATE', `file ${index} of ${row.id} is done`)
  row.size += to.size - item.size
  row.bytesDone -= item.bytesDone
  item.size = to.size
  item.bytesDone = 0
  if (to.mtime === undefined) delete item.mtime
  else item.mtime = to.mtime
}

/** The folder's listing failed for good (`NOT_FOUND`, `EMPTY`): the request ends failed. */
export function failListing(row: RequestRow, failure: { code: string; reason: string }): void {
  row.code = failure.code.slice(0, 64)
  row.reason = failure.reason.slice(0, 1024)
}

/** A failed listing is tried again: from the start when it appended nothing. */
export function retryListing(row: RequestRow): void {
  if (row.files === 0) row.expanding = true
  delete row.code
  delete row.reason
  delete row.finishedAt
}
