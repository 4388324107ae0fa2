import type { ReadRequest } from '@harddrive-party/wire-protocol'
import { PeerNodeError } from '../errors'
import type { AnswerStream } from './answer-stream'
import {
  checkFile,
  endFailedUpload,
  positionSender,
  type ReadContext,
  SMALL_READ_BYTES,
  writeFileHeader,
} from './serve-read'
import type { UploadHandle } from './upload-tracker'

/** A read waiting for a small-read slot hears its place only after waiting this long. */
const QUEUED_NOTICE_MS = 250

/**
 * Takes one of the small-read lane's slots for `peer`, at once when one is free; otherwise waits
 * (the requester hears its place only once it has waited a while). Returns the slot's release
 * and the signal that also ends when the requester leaves.
 */
export async function acquireSmallSlot(
  context: ReadContext,
  answer: AnswerStream,
): Promise<{ release: () => void; signal: AbortSignal }> {
  const now = context.smallSlots.tryAcquire(context.peer)
  if (now !== undefined) return { release: now, signal: context.signal }
  // The requester may give up while waiting: its abort ends our wait too.
  const waiting = new AbortController()
  void answer.stream.closed.then(() => waiting.abort(new PeerNodeError('INTERRUPTED', 'gone')))
  const signal = AbortSignal.any([context.signal, waiting.signal])
  // Most waits here are short: the requester hears its place only once it has waited a while
  // (a message for each of thousands of small reads would cost more than the reads).
  const positions = positionSender(answer)
  let noticed = false
  let latest: number | undefined
  const notice = setTimeout(() => {
    noticed = true
    if (latest !== undefined) positions.send(latest)
  }, QUEUED_NOTICE_MS)
  try {
    const release = await context.smallSlots.acquire(context.peer, {
      signal,
      onPosition: (position) => {
        if (noticed) positions.send(position)
        else latest = position
      },
    })
    return { release, signal }
  } finally {
    clearTimeout(notice)
    positions.stop() // nothing may follow the header but file bytes
  }
}

/**
 * Whether a read can send at most one chunk, whatever the file is now: its `length` says so, or
 * its `expect`ed size does (a file of another size is answered `CHANGED`, with no bytes).
 */
export function fitsOneChunk(request: ReadRequest): boolean {
  const byLength = request.length ?? Number.POSITIVE_INFINITY
  const byExpect =
    request.expect === undefined ? Number.POSITIVE_INFINITY : request.expect.size - request.offset
  return Math.min(byLength, byExpect) <= SMALL_READ_BYTES
}

/**
 * Answers a read of at most one chunk ({@link fitsOneChunk}) in the small-read lane: slots of
 * its own, so a folder of small files does not queue behind films (each such read holds its slot
 * for one read, where a film holds one for minutes), and fewer steps than `serveRead`: no
 * separate resolve before the slot, and the bytes are read before the header goes out, by
 * `store.readSmall` (open, check of the descriptor, read and close on the index store's reading
 * thread, many files per message). Rate limits, `expect` and the upload list apply as to any
 * read; the upload is listed from the moment its bytes are read (a wait for a small-read slot is
 * not listed, but the requester still hears its queue position).
 */
export async function serveSmallRead(
  context: ReadContext,
  request: ReadRequest,
  answer: AnswerStream,
): Promise<void> {
  const { store, peer } = context
  const { release, signal } = await acquireSmallSlot(context, answer)
  let upload: UploadHandle | undefined
  try {
    // Never more than one chunk, whatever the file is now (a grown file is answered `CHANGED`).
    const maxBytes = Math.min(request.length ?? SMALL_READ_BYTES, SMALL_READ_BYTES)
    const file = await store.readSmall(
      request.path,
      { offset: request.offset, maxBytes },
      { signal },
    )
    const length = checkFile(request, file)
    upload = context.uploads.begin(peer, request.path, {
      size: file.size,
      offset: request.offset,
      length,
    })
    upload.active()
    if (file.bytes.length < length) {
      throw new PeerNodeError('INTERRUPTED', `${request.path} shrank while being sent`)
    }
    for (const bucket of context.buckets) await bucket.take(length, { signal })
    await writeFileHeader(answer, file, request.offset, length)
    // The bytes are the reader's own (a fresh buffer): the transport keeps them until sent.
    if (length > 0) await answer.writeBytes(file.bytes.subarray(0, length))
    upload.sent(length)
    await answer.end()
    upload.end('done')
  } catch (err) {
    if (upload) endFailedUpload(upload, err, context.signal, signal)
    throw err
  } finally {
    // The slot bounds the bytes held and the files open (read and closed by now).
    release()
  }
}
