import { decodeCbor, encodeCbor } from './cbor'
import { array, asFields, type Fields, field, str, uint } from './check'
import { WireError } from './errors'
import { MAX_ERROR_MESSAGE_CHARS, MAX_MTIME, MAX_PATH_BYTES } from './limits'
import { validateSharePath } from './path'
import { type ErrorMessage, PEER_ERROR_CODES, type PeerErrorCode } from './peer-messages'
import { utf8Length } from './utf8'
import type { ProtocolVersion } from './version'

/**
 * `read-many` (protocol 1.1, docs/protocol.md §7.6): many whole small files in one request and
 * one stream, instead of a stream, a request and an answer per file. Kept out of
 * `peer-messages.ts` like `watch`; a server decodes it with `decodeIncomingRequest`.
 */

/** The first minor version of protocol 1 whose peers answer `read-many`. */
export const READ_MANY_MINOR = 1
/** Most files in one `read-many`. */
export const MAX_READ_MANY_FILES = 64
/** Largest file a `read-many` may ask for (one small read, 64 KiB). */
export const MAX_READ_MANY_FILE_BYTES = 64 * 1024
/** Most bytes one `read-many` may expect in all. */
export const MAX_READ_MANY_BYTES = 1024 * 1024
/** Most UTF-8 bytes of all paths of one `read-many` (its request frame stays small). */
export const MAX_READ_MANY_PATH_BYTES = 32 * 1024

/** One file of a `read-many`: its path and what the requester believes it is. */
export interface ReadManyFile {
  path: string
  size: number
  mtime: number
}

export interface ReadManyRequest {
  type: 'read-many'
  files: ReadManyFile[]
}

/** A file of a `read-many` follows: exactly `size` raw bytes after this frame. */
export interface FileHeader {
  type: 'file'
  /** The file's position in the request. */
  index: number
  size: number
  mtime: number
}

/** A file of a `read-many` that is not sent (`NOT_FOUND`, `CHANGED`, `FORBIDDEN`...). */
export interface FileErrorMessage {
  type: 'file-error'
  index: number
  code: PeerErrorCode
  message: string
}

/** What may come on a `read-many` stream: `queued`, then a `file` or `file-error` per file in order; or `error`. */
export type ReadManyResponse =
  | FileHeader
  | FileErrorMessage
  | { type: 'queued'; position: number }
  | ErrorMessage

/** Whether a peer whose hello said `version` answers `read-many`. */
export function understandsReadMany(version: ProtocolVersion): boolean {
  return version[0] === 1 && version[1] >= READ_MANY_MINOR
}

export function encodeReadManyMessage(message: ReadManyRequest | ReadManyResponse): Uint8Array {
  return encodeCbor(message)
}

/**
 * Decodes a `read-many` request (called by `decodeIncomingRequest`): at most
 * {@link MAX_READ_MANY_FILES} files, each a valid file path expected to be at most
 * {@link MAX_READ_MANY_FILE_BYTES}, {@link MAX_READ_MANY_BYTES} and
 * {@link MAX_READ_MANY_PATH_BYTES} in all.
 */
export function decodeReadManyRequest(m: Fields): ReadManyRequest {
  const list = array(m, 'files', 'read-many', MAX_READ_MANY_FILES)
  if (list.length === 0) throw new WireError('BAD_FIELD', 'read-many.files is empty')
  let bytes = 0
  let pathBytes = 0
  const files = list.map((value): ReadManyFile => {
    const f = asFields(value, 'read-many file')
    const path = validateSharePath(str(f, 'path', 'read-many file', MAX_PATH_BYTES))
    if (path === '') throw new WireError('BAD_PATH', 'read-many needs file paths, got the root')
    const size = uint(f, 'size', 'read-many file', MAX_READ_MANY_FILE_BYTES)
    bytes += size
    pathBytes += utf8Length(path)
    return { path, size, mtime: uint(f, 'mtime', 'read-many file', MAX_MTIME) }
  })
  if (bytes > MAX_READ_MANY_BYTES) {
    throw new WireError(
      'BAD_FIELD',
      `read-many expects ${bytes} bytes, more than ${MAX_READ_MANY_BYTES}`,
    )
  }
  if (pathBytes > MAX_READ_MANY_PATH_BYTES) {
    throw new WireError(
      'BAD_FIELD',
      `read-many paths take ${pathBytes} bytes, more than ${MAX_READ_MANY_PATH_BYTES}`,
    )
  }
  return { type: 'read-many', files }
}

/** Decodes a frame answering `read-many`. */
export function decodeReadManyResponse(buf: Uint8Array): ReadManyResponse {
  const m = asFields(decodeCbor(buf), 'read-many response')
  const type = field(m, 'type')
  switch (type) {
    case 'file':
      return {
        type: 'file',
        index: uint(m, 'index', 'file', MAX_READ_MANY_FILES - 1),
        size: uint(m, 'size', 'file', MAX_READ_MANY_FILE_BYTES),
        mtime: uint(m, 'mtime', 'file', MAX_MTIME),
      }
    case 'file-error': {
      const { code, message } = errorFields(m, 'file-error')
      return {
        type: 'file-error',
        index: uint(m, 'index', 'file-error', MAX_READ_MANY_FILES - 1),
        code,
        message,
      }
    }
    case 'queued':
      return { type: 'queued', position: uint(m, 'position', 'queued') }
    case 'error':
      return { type: 'error', ...errorFields(m, 'error') }
  }
  if (typeof type !== 'string') {
    throw new WireError('BAD_FIELD', 'read-many response.type must be a string')
  }
  throw new WireError(
    'UNKNOWN_MESSAGE',
    `unexpected read-many response type "${type.slice(0, 64)}"`,
  )
}

/** A code we do not know (a newer peer's) is kept in the text and read as `INTERNAL`. */
function errorFields(m: Fields, what: string): { code: PeerErrorCode; message: string } {
  const raw = str(m, 'code', what, 64)
  const message = str(m, 'message', what, MAX_ERROR_MESSAGE_CHARS)
  const known = (PEER_ERROR_CODES as readonly string[]).includes(raw)
  return known
    ? { code: raw as PeerErrorCode, message }
    : { code: 'INTERNAL', message: `${raw}: ${message}` }
}
