import type { SmallFile } from '@harddrive-party/index-store'
import {
  encodeFrame,
  encodeReadManyMessage,
  type ReadManyRequest,
  type ReadManyResponse,
} from '@harddrive-party/wire-protocol'
import { type AnswerStream, answerFor } from './answer-stream'
import { endFailedUpload, type ReadContext } from './serve-read'
import { acquireSmallSlot } from './serve-small-read'

/** Answer pieces are written in groups of about this many bytes, under one stall timer. */
const WRITE_BYTES = 64 * 1024

/**
 * Answers `read-many` (docs/protocol.md §7.6): many whole small files under **one** small-read
 * slot, all read at once through `store.readSmall` (the index store's reading thread takes them
 * in as few messages as it can), then answered in request order: a `file` header and the bytes,
 * or a `file-error`; one file's failure does not stop the others. Several files go out in one
 * transport frame, without a copy into one buffer first. The request's expected sizes bound
 * what is held (1 MiB at most: the decoder's limit, and a grown file is `CHANGED` without
 * reading past what was expected).
 *
 * Rate limits apply per file, as to `read`. The upload list gets **one entry per request**,
 * named after the files' common folder, with their bytes: an entry per file would cost three
 * change events per 4 KiB file, the per-file work this request exists to cut, and a person
 * watching uploads sees a folder of small files go out either way.
 */
export async function serveReadMany(
  context: ReadContext,
  request: ReadManyRequest,
  answer: AnswerStream,
): Promise<void> {
  const { store, peer } = context
  const { release, signal } = await acquireSmallSlot(context, answer)
  const total = request.files.reduce((sum, f) => sum + f.size, 0)
  const upload = context.uploads.begin(peer, commonFolder(request.files), {
    size: total,
    offset: 0,
    length: total,
  })
  try {
    upload.active()
    const reads = request.files.map((f) =>
      store.readSmall(f.path, { offset: 0, maxBytes: f.size }, { signal }).then(
        (file) => file,
        (err: unknown) => ({ err }),
      ),
    )
    let pending: Uint8Array[] = []
    let pendingBytes = 0
    const flush = async () => {
      if (pendingBytes === 0) return
      // Not copied into one buffer: the transport takes a frame's bytes from several pieces.
      const parts = pending
      pending = []
      pendingBytes = 0
      await answer.writeParts(parts)
    }
    const push = (bytes: Uint8Array) => {
      pending.push(bytes)
      pendingBytes += bytes.length
    }
    for (const [index, wanted] of request.files.entries()) {
      const got = await reads[index]!
      const answerOf = fileAnswer(index, wanted, got)
      push(encodeFrame(encodeReadManyMessage(answerOf)))
      if (answerOf.type === 'file' && answerOf.size > 0) {
        for (const bucket of context.buckets) await bucket.take(answerOf.size, { signal })
        // The bytes are the reader's own (a fresh buffer): the transport keeps them until sent.
        push((got as SmallFile).bytes.subarray(0, answerOf.size))
        upload.sent(answerOf.size)
      }
      if (pendingBytes >= WRITE_BYTES) await flush()
    }
    await flush()
    await answer.end()
    upload.end('done')
  } catch (err) {
    endFailedUpload(upload, err, context.signal, signal)
    // Only a broken stream or a stop gets here: mid-answer nothing more can be said.
    answer.sendingBytes = true
    throw err
  } finally {
    // The slot bounds the bytes held (read by now, or dropped with the answer).
    release()
  }
}

/** A file's answer: its header, or why it is not sent. */
function fileAnswer(
  index: number,
  wanted: { path: string; size: number; mtime: number },
  got: SmallFile | { err: unknown },
): ReadManyResponse {
  if ('err' in got) {
    const known = answerFor(got.err) ?? {
      code: 'INTERNAL' as const,
      message: 'the read failed; details are in the serving peer log',
    }
    return { type: 'file-error', index, code: known.code, message: known.message.slice(0, 1024) }
  }
  if (got.size !== wanted.size || got.mtime !== wanted.mtime || got.bytes.length < wanted.size) {
    const message = `${wanted.path} is now ${got.size} bytes, mtime ${got.mtime}; expected ${wanted.size} bytes, mtime ${wanted.mtime}`
    return { type: 'file-error', index, code: 'CHANGED', message: message.slice(0, 1024) }
  }
  return { type: 'file', index, size: got.size, mtime: got.mtime }
}

/** The deepest folder holding every file (what the upload list shows for the request). */
function commonFolder(files: readonly { path: string }[]): string {
  let common = files[0]!.path.split('/').slice(0, -1)
  for (const f of files) {
    const parts = f.path.split('/')
    let n = 0
    while (n < common.length && n < parts.length - 1 && common[n] === parts[n]) n++
    common = common.slice(0, n)
  }
  return common.join('/')
}
