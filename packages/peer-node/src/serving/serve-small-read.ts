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
 * for one open, read and close, where a film holds one for minutes), and fewer steps than
 * `serveRead`: no separate resolve before the slot (the file is opened once, and its descriptor
 * is what is checked), the bytes read before the header goes out, the file closed while they
 * are sent. Rate limits, `expect` and the upload list apply as to any read; the upload is
 * listed from the moment its file is open (a wait for a small-read slot is not listed, but the
 * requester still hears its queue position).
 */
export async function serveSmallRead(
  context: ReadContext,
  request: ReadRequest,
  answer: AnswerStream,
): Promise<void> {
  const { store, peer } = context
  let signal = context.signal
  let release = context.smallSlots.tryAcquire(peer)
  if (release === undefined) {
    // The requester may give up while waiting: its abort ends our wait too.
    const waiting = new AbortController()
    void answer.stream.closed.then(() => waiting.abort(new PeerNodeError('INTERRUPTED', 'gone')))
    signal = AbortSignal.any([context.signal, waiting.signal])
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
      release = await context.smallSlots.acquire(peer, {
        signal,
        onPosition: (position) => {
          if (noticed) positions.send(position)
          else latest = position
        },
      })
    } finally {
      clearTimeout(notice)
      positions.stop() // nothing may follow the header but file bytes
    }
  }
  let upload: UploadHandle | undefined
  let closed: Promise<void> | undefined
  try {
    const file = await store.open(request.path, { signal })
    let bytes: Buffer
    let length: number
    try {
      length = checkFile(request, file)
      upload = context.uploads.begin(peer, request.path, {
        size: file.size,
        offset: request.offset,
        length,
      })
      upload.active()
      // A fresh buffer: the transport keeps it until it is sent.
      bytes = Buffer.allocUnsafe(length)
      let got = 0
      while (got < length) {
        const { bytesRead } = await file.handle.read(bytes, got, length - got, request.offset + got)
        if (bytesRead === 0) {
          throw new PeerNodeError('INTERRUPTED', `${request.path} shrank while being sent`)
        }
        got += bytesRead
      }
    } finally {
      // Closed while the bytes go out (a read-only file: its close cannot lose anything).
      closed = file.handle.close().catch(() => {})
    }
    for (const bucket of context.buckets) await bucket.take(length, { signal })
    await writeFileHeader(answer, file, request.offset, length)
    if (length > 0) await answer.writeBytes(bytes)
    upload.sent(length)
    await answer.end()
    upload.end('done')
  } catch (err) {
    if (upload) endFailedUpload(upload, err, context.signal, signal)
    throw err
  } finally {
    await closed // the slot bounds open files: it is free once the file is closed
    release()
  }
}
