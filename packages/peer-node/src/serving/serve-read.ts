import type { IndexStore } from '@harddrive-party/index-store'
import { isHdpError, type ReadRequest } from '@harddrive-party/wire-protocol'
import { PeerNodeError } from '../errors'
import type { AnswerStream } from './answer-stream'
import type { TokenBucket } from './rate-limit'
import type { UploadSlots } from './upload-slots'
import type { UploadHandle, UploadTracker } from './upload-tracker'

/**
 * File bytes go out in chunks of this size: each is read, paid for (rate limit), then written,
 * while the next is read. 256 KiB: one read per multiplexer message (smaller reads cost a
 * thread-pool round trip each; 16,384 per GiB at 64 KiB). A rate-limited read uses 64 KiB, so
 * its pacing stays smooth.
 */
const CHUNK_BYTES = 256 * 1024
const LIMITED_CHUNK_BYTES = 64 * 1024
/** A read of at most this many bytes is served in the small-read lane (one read, one chunk). */
export const SMALL_READ_BYTES = 64 * 1024

export interface ReadContext {
  store: IndexStore
  slots: UploadSlots
  /** The lane of reads of at most one chunk (`serve-small-read.ts`). */
  smallSlots: UploadSlots
  /** The global bucket, then this peer's. */
  buckets: readonly TokenBucket[]
  peer: string
  /** Reports the read as an upload (queued, active, progress, end). */
  uploads: UploadTracker
  signal: AbortSignal
}

/**
 * Answers `read`: checks the file, waits for an upload slot (sending `queued` positions), checks
 * the file again on the open descriptor, then streams exactly `length` bytes with backpressure.
 * At most two chunks are in memory here (one being read ahead while the other is written); the
 * transport holds at most its stream window.
 */
export async function serveRead(
  context: ReadContext,
  request: ReadRequest,
  answer: AnswerStream,
): Promise<void> {
  const { store, peer } = context
  // Fail fast (no slot, no queue place) for what can be known now.
  const resolved = await store.resolve(request.path, { signal: context.signal })
  if (resolved.dir) throw new PeerNodeError('BAD_REQUEST', `${request.path} is a directory`)
  const wanted = checkFile(request, resolved)
  const upload = context.uploads.begin(peer, request.path, {
    size: resolved.size,
    offset: request.offset,
    length: wanted,
  })
  // The requester may give up while waiting: its abort ends our wait too.
  const waiting = new AbortController()
  void answer.stream.closed.then(() => waiting.abort(new PeerNodeError('INTERRUPTED', 'gone')))
  try {
    await sendFile(
      context,
      request,
      answer,
      upload,
      AbortSignal.any([context.signal, waiting.signal]),
    )
    upload.end('done')
  } catch (err) {
    endFailedUpload(upload, err, context.signal, waiting.signal)
    throw err
  }
}

/** Ends the upload of a read that threw: we stopped, the reader left, or the read failed. */
export function endFailedUpload(
  upload: UploadHandle,
  err: unknown,
  serving: AbortSignal,
  reader: AbortSignal,
): void {
  if (serving.aborted) upload.end('cancelled', 'we stopped serving')
  else if (reader.aborted || isHdpError(err, 'TransportError'))
    upload.end('cancelled', 'the reader closed the stream')
  else upload.end('failed', err instanceof Error ? err.message : String(err))
}

/** The header that starts a file's bytes; after it nothing but file bytes may be written. */
export async function writeFileHeader(
  answer: AnswerStream,
  file: { size: number; mtime: number },
  offset: number,
  length: number,
): Promise<void> {
  await answer.writeMessage({ type: 'header', size: file.size, mtime: file.mtime, offset, length })
  answer.sendingBytes = true
}

async function sendFile(
  context: ReadContext,
  request: ReadRequest,
  answer: AnswerStream,
  upload: UploadHandle,
  signal: AbortSignal,
): Promise<void> {
  const { slots, store, peer } = context
  const positions = positionSender(answer)
  const release = await slots.acquire(peer, {
    signal,
    onPosition: (position) => {
      positions.send(position)
      upload.queued(position)
    },
  })
  positions.stop() // nothing may follow the header but file bytes
  upload.active()
  try {
    const file = await store.open(request.path, { signal })
    try {
      const length = checkFile(request, file)
      await writeFileHeader(answer, file, request.offset, length)
      const chunkBytes = context.buckets.every((b) => b.unlimited)
        ? CHUNK_BYTES
        : LIMITED_CHUNK_BYTES
      const end = request.offset + length
      // Three buffers in turn: one is read into while the transport holds the two before it
      // (two chunks queued keep its messages full: with one, each 256 KiB chunk left a 9-byte
      // tail message behind). A fresh 256 KiB buffer per chunk was fresh memory each time
      // (glibc hands such blocks back to the system), and its page faults cost the serving
      // peer more than the read.
      const buffers = [Buffer.alloc(0), Buffer.alloc(0), Buffer.alloc(0)]
      let turn = 0
      const read = async (position: number): Promise<Uint8Array> => {
        const want = Math.min(chunkBytes, end - position)
        turn = (turn + 1) % buffers.length
        if (buffers[turn]!.length < want) buffers[turn] = Buffer.allocUnsafe(chunkBytes)
        const chunk = buffers[turn]!.subarray(0, want)
        const { bytesRead } = await file.handle.read(chunk, 0, want, position)
        if (bytesRead === 0) {
          throw new PeerNodeError('INTERRUPTED', `${request.path} shrank while being sent`)
        }
        return bytesRead === want ? chunk : chunk.subarray(0, bytesRead)
      }
      // Marked handled at once: each may fail while we wait on another, and is awaited later.
      const handled = <T>(promise: Promise<T>) => {
        promise.catch(() => {})
        return promise
      }
      let position = request.offset
      let next = position < end ? handled(read(position)) : undefined
      // Writes whose chunk the transport may still hold (`untilCopied`), oldest first.
      const writing: Promise<void>[] = []
      try {
        while (next !== undefined) {
          const chunk = await next
          position += chunk.length
          // The next read runs while this chunk is paid for and handed to the transport; its
          // buffer held the chunk before last, which the transport has copied out (below).
          next = position < end ? handled(read(position)) : undefined
          for (const bucket of context.buckets) await bucket.take(chunk.length, { signal })
          writing.push(handled(answer.writeBytes(chunk, { untilCopied: true })))
          upload.sent(chunk.length)
          if (writing.length >= buffers.length - 1) await writing.shift()
        }
        for (const write of writing.splice(0)) await write
      } finally {
        // A read still running when a write failed: settled before the descriptor closes.
        await next?.catch(() => {})
        await Promise.allSettled(writing)
      }
    } finally {
      await file.handle.close()
    }
  } finally {
    release()
  }
  await answer.end()
}

/** Checks `expect` and the range against the file as it is now; returns the bytes to send. */
export function checkFile(request: ReadRequest, file: { size: number; mtime: number }): number {
  const { expect } = request
  if (expect !== undefined && (expect.size !== file.size || expect.mtime !== file.mtime)) {
    throw new PeerNodeError(
      'CHANGED',
      `${request.path} is now ${file.size} bytes, mtime ${file.mtime}; expected ${expect.size} bytes, mtime ${expect.mtime}`,
    )
  }
  if (request.offset > file.size) {
    throw new PeerNodeError(
      'BAD_REQUEST',
      `offset ${request.offset} is beyond the end of ${request.path} (${file.size} bytes)`,
    )
  }
  const rest = file.size - request.offset
  return request.length === undefined ? rest : Math.min(request.length, rest)
}

/**
 * Sends `queued` positions without ever queueing them: while one is being written, newer
 * positions replace each other and only the latest follows.
 */
export function positionSender(answer: AnswerStream): {
  send: (position: number) => void
  stop: () => void
} {
  let writing = false
  let stopped = false
  let latest: number | undefined
  const write = (position: number) => {
    writing = true
    answer.writeMessage({ type: 'queued', position }).then(
      () => {
        writing = false
        if (latest !== undefined && !stopped) {
          const next = latest
          latest = undefined
          write(next)
        }
      },
      () => {
        // The stream is gone or stalled; the read ends through its own path.
      },
    )
  }
  return {
    send: (position) => {
      if (stopped) return
      if (writing) latest = position
      else write(position)
    },
    stop: () => {
      stopped = true
    },
  }
}
