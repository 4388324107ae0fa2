import {
  decodeReadManyResponse,
  MAX_READ_MANY_BYTES,
  MAX_READ_MANY_FILE_BYTES,
  MAX_READ_MANY_FILES,
  MAX_READ_MANY_PATH_BYTES,
  type ReadManyFile,
} from '@harddrive-party/wire-protocol'
import { PeerNodeError, remoteError } from '../errors'
import type { ReadQueuedEvent } from './peer-client'
import { decodeAnswerFrame, type ResponseReader } from './response-reader'

/**
 * One file of a `readMany` answer, in request order: its bytes (exactly the size asked for; a
 * view of a received buffer of at most {@link MAX_VIEWED_BUFFER_BYTES}, or a copy of its own),
 * or the peer's reason for not sending it (`NOT_FOUND`, `CHANGED`...).
 */
export type ReadManyResult =
  | { index: number; bytes: Uint8Array; error?: undefined }
  | { index: number; bytes?: undefined; error: PeerNodeError }

/** Whether `files` fit one `read-many` request (count, sizes, paths); see the protocol's limits. */
export function fitsReadMany(files: readonly ReadManyFile[]): boolean {
  if (files.length === 0 || files.length > MAX_READ_MANY_FILES) return false
  let bytes = 0
  let pathBytes = 0
  for (const f of files) {
    if (f.size > MAX_READ_MANY_FILE_BYTES || f.path === '') return false
    bytes += f.size
    pathBytes += Buffer.byteLength(f.path)
  }
  return bytes <= MAX_READ_MANY_BYTES && pathBytes <= MAX_READ_MANY_PATH_BYTES
}

/** Checks a `readMany` request's size before it is sent (its paths are checked one by one). */
export function checkReadMany(files: readonly ReadManyFile[]): void {
  if (!fitsReadMany(files)) {
    throw new PeerNodeError(
      'BAD_PATH',
      `a read-many takes 1-${MAX_READ_MANY_FILES} files of at most ${MAX_READ_MANY_FILE_BYTES} bytes, ${MAX_READ_MANY_BYTES} bytes and ${MAX_READ_MANY_PATH_BYTES} bytes of paths in all`,
    )
  }
}

/**
 * Reads a peer's answer to `read-many` for `files`, yielding each file as it is complete. The
 * peer is not trusted: an index that is not the next one (out of order, repeated, beyond the
 * list), a header whose size or mtime is not the one asked for, a `queued` after the first file
 * or anything after the last are `BAD_RESPONSE`; a stream that stops early is `INTERRUPTED`.
 * Either ends the answer: the files not yet yielded are the caller's to ask for again. Memory:
 * one file (at most 64 KiB) is held at a time.
 */
export async function* readManyAnswer(
  reader: ResponseReader,
  files: readonly ReadManyFile[],
  onProgress: ((event: ReadQueuedEvent) => void) | undefined,
): AsyncGenerator<ReadManyResult> {
  let next = 0
  while (next < files.length) {
    const message = decodeAnswerFrame(
      decodeReadManyResponse,
      await reader.nextFrame(),
      'the peer ended the stream before every file',
    )
    if (message.type === 'queued') {
      if (next > 0) throw new PeerNodeError('BAD_RESPONSE', 'the peer sent `queued` mid-answer')
      onProgress?.({ type: 'peer-node:read-queued', position: message.position })
      continue
    }
    if (message.type === 'error') throw remoteError(message.code, message.message)
    if (message.index !== next) {
      throw new PeerNodeError(
        'BAD_RESPONSE',
        `the peer answered file ${message.index} where file ${next} of ${files.length} was due`,
      )
    }
    const wanted = files[next]!
    next++
    if (message.type === 'file-error') {
      yield { index: message.index, error: remoteError(message.code, message.message) }
      continue
    }
    if (message.size !== wanted.size || message.mtime !== wanted.mtime) {
      throw new PeerNodeError(
        'BAD_RESPONSE',
        `the peer sends ${wanted.path} as ${message.size} bytes, mtime ${message.mtime}; asked for ${wanted.size} bytes, mtime ${wanted.mtime}`,
      )
    }
    const chunks: Uint8Array[] = []
    for await (const chunk of reader.bytes(message.size)) chunks.push(chunk)
    yield { index: message.index, bytes: ownBytes(chunks, message.size) }
  }
  await reader.expectEnd()
}

/**
 * A file's bytes are handed on as a view of the buffer they arrived in when that buffer is at
 * most this large (the transport's received pieces of a stream are 16 KiB, or a message of at
 * most 64 KiB on UDX): held until written, it keeps no more memory alive than the largest
 * file held whole. A copy per 4 KiB file (fresh memory each) cost more than the rest of its
 * answer's decoding.
 */
const MAX_VIEWED_BUFFER_BYTES = 64 * 1024

/** `size` bytes from `chunks`: a view of the only chunk when its buffer is small, else a copy. */
function ownBytes(chunks: readonly Uint8Array[], size: number): Uint8Array {
  const only = chunks.length === 1 ? chunks[0]! : undefined
  if (only !== undefined && only.buffer.byteLength <= MAX_VIEWED_BUFFER_BYTES) return only
  // A copy: the chunks may be views of a whole transport message, which a view would keep alive.
  return Buffer.concat(chunks, size)
}
