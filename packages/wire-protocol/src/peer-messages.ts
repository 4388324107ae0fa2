import { decodeCbor, encodeCbor } from './cbor'
import {
  array,
  asFields,
  bool,
  bytes,
  type Fields,
  field,
  has,
  optBytes,
  optStr,
  optUint,
  str,
  uint,
} from './check'
import { HdpError, WireError } from './errors'
import {
  DEFAULT_LS_LIMIT,
  MAX_AGENT_CHARS,
  MAX_CURSOR_BYTES,
  MAX_ERROR_MESSAGE_CHARS,
  MAX_LS_LIMIT,
  MAX_MTIME,
  MAX_PATH_BYTES,
  MAX_SEARCH_BYTES,
} from './limits'
import { validateSharePath } from './path'
import { checkVersion, type ProtocolVersion } from './version'

/**
 * Peer-to-peer messages. Every message is a CBOR map with a `type` string; one request
 * opens one stream; see docs/protocol.md for the exchanges.
 */

/** First message each side sends on a new connection. */
export interface Hello {
  type: 'hello'
  version: ProtocolVersion
  /** Proof of topic membership bound to both peers' keys (see {@link createHelloProof}). */
  proof: Uint8Array
  /** Free-form software name, e.g. `harddrive-party-js/0.1.0`. */
  agent?: string
}

export interface LsRequest {
  type: 'ls'
  /** Share path to list; `''` lists the shares themselves. */
  path: string
  /** Case-insensitive search term; when set, `path` scopes the search. */
  search?: string
  recursive: boolean
  /** Opaque cursor from a previous `end` message, to continue a listing. */
  cursor?: Uint8Array
  /** Most entries to return in this request. */
  limit?: number
}

/** What the requester expects a file to be; a mismatch is answered with `CHANGED`. */
export interface ExpectedFile {
  size: number
  mtime: number
}

export interface ReadRequest {
  type: 'read'
  path: string
  offset: number
  /** Bytes to read; absent means to the end of the file. */
  length?: number
  expect?: ExpectedFile
}

export type PeerRequest = LsRequest | ReadRequest

export interface Entry {
  /** Full share path: `<share>/<dir>/<name>`. */
  path: string
  /** File size, or for a directory the total size of the files under it. */
  size: number
  dir: boolean
  /** Last modification time, ms since the Unix epoch. */
  mtime?: number
  /** For a directory: number of files under it. */
  files?: number
}

/** A page of `ls` results; a response is any number of these, then `end` (or `error`). */
export interface EntriesMessage {
  type: 'entries'
  entries: Entry[]
}

export interface EndMessage {
  type: 'end'
  /** Present when more results exist: send it in a new `ls` to continue. */
  cursor?: Uint8Array
}

/** Answer to `read`: the raw file bytes follow this frame, exactly `length` of them. */
export interface ReadHeader {
  type: 'header'
  /** Current size of the file. */
  size: number
  mtime: number
  offset: number
  length: number
}

/** Sent while a `read` waits for an upload slot; `position` 1 is next. */
export interface QueuedMessage {
  type: 'queued'
  position: number
}

export const PEER_ERROR_CODES = [
  'NOT_FOUND',
  'BAD_REQUEST',
  'CHANGED',
  'TOO_LARGE',
  'BUSY',
  'FORBIDDEN',
  'UNSUPPORTED_VERSION',
  'INTERNAL',
] as const
export type PeerErrorCode = (typeof PEER_ERROR_CODES)[number]

export interface ErrorMessage {
  type: 'error'
  code: PeerErrorCode
  message: string
}

export type LsResponse = EntriesMessage | EndMessage | ErrorMessage
export type ReadResponse = ReadHeader | QueuedMessage | ErrorMessage
export type PeerMessage = Hello | PeerRequest | LsResponse | ReadResponse

/** An error a peer reported, or one we report to a peer. */
export class PeerError extends HdpError<PeerErrorCode> {
  override name = 'PeerError'
}

const MAX_ENTRIES_PER_MESSAGE = 10_000

export function encodePeerMessage(message: PeerMessage): Uint8Array {
  return encodeCbor(message)
}

export function decodeHello(buf: Uint8Array): Hello {
  const m = decodeTyped(buf, 'hello', ['hello'])
  const version = decodeVersion(m)
  checkVersion(version)
  const hello: Hello = {
    type: 'hello',
    version,
    proof: bytes(m, 'proof', 'hello', { min: 32, max: 32 }),
  }
  const agent = optStr(m, 'agent', 'hello', MAX_AGENT_CHARS)
  if (agent !== undefined) hello.agent = agent
  return hello
}

export function decodePeerRequest(buf: Uint8Array): PeerRequest {
  const m = decodeTyped(buf, 'request', ['ls', 'read'])
  if (field(m, 'type') === 'ls') {
    const req: LsRequest = {
      type: 'ls',
      path: validateSharePath(str(m, 'path', 'ls', MAX_PATH_BYTES)),
      recursive: bool(m, 'recursive', 'ls'),
    }
    const search = optStr(m, 'search', 'ls', MAX_SEARCH_BYTES)
    if (search !== undefined) req.search = search
    const cursor = optBytes(m, 'cursor', 'ls', { max: MAX_CURSOR_BYTES })
    if (cursor !== undefined) req.cursor = cursor
    const limit = optUint(m, 'limit', 'ls', MAX_LS_LIMIT)
    if (limit !== undefined) req.limit = limit
    return req
  }
  const req: ReadRequest = {
    type: 'read',
    path: validateSharePath(str(m, 'path', 'read', MAX_PATH_BYTES)),
    offset: uint(m, 'offset', 'read'),
  }
  const length = optUint(m, 'length', 'read')
  if (length !== undefined) req.length = length
  if (has(m, 'expect')) {
    const e = asFields(field(m, 'expect'), 'read.expect')
    req.expect = {
      size: uint(e, 'size', 'read.expect'),
      mtime: uint(e, 'mtime', 'read.expect', MAX_MTIME),
    }
  }
  if (req.path === '') throw new WireError('BAD_PATH', 'read needs a file path, got the root')
  return req
}

export function decodeLsResponse(buf: Uint8Array): LsResponse {
  const m = decodeTyped(buf, 'ls response', ['entries', 'end', 'error'])
  switch (field(m, 'type')) {
    case 'entries':
      return {
        type: 'entries',
        entries: array(m, 'entries', 'entries', MAX_ENTRIES_PER_MESSAGE).map(decodeEntry),
      }
    case 'end': {
      const end: EndMessage = { type: 'end' }
      const cursor = optBytes(m, 'cursor', 'end', { max: MAX_CURSOR_BYTES })
      if (cursor !== undefined) end.cursor = cursor
      return end
    }
    default:
      return decodeError(m)
  }
}

export function decodeReadResponse(buf: Uint8Array): ReadResponse {
  const m = decodeTyped(buf, 'read response', ['header', 'queued', 'error'])
  switch (field(m, 'type')) {
    case 'header': {
      const header: ReadHeader = {
        type: 'header',
        size: uint(m, 'size', 'header'),
        mtime: uint(m, 'mtime', 'header', MAX_MTIME),
        offset: uint(m, 'offset', 'header'),
        length: uint(m, 'length', 'header'),
      }
      if (header.offset + header.length > header.size) {
        throw new WireError('BAD_FIELD', 'header.offset + header.length exceeds header.size')
      }
      return header
    }
    case 'queued':
      return { type: 'queued', position: uint(m, 'position', 'queued') }
    default:
      return decodeError(m)
  }
}

/** Turns an `error` message into a {@link PeerError} to throw. */
export function peerErrorFromMessage(message: ErrorMessage): PeerError {
  return new PeerError(message.code, message.message)
}

/** The effective page size of an `ls` request. */
export function lsLimit(req: LsRequest): number {
  return req.limit === undefined || req.limit === 0 ? DEFAULT_LS_LIMIT : req.limit
}

function decodeTyped(buf: Uint8Array, what: string, types: readonly string[]): Fields {
  const m = asFields(decodeCbor(buf), what)
  const type = field(m, 'type')
  if (typeof type !== 'string') throw new WireError('BAD_FIELD', `${what}.type must be a string`)
  if (!types.includes(type)) {
    throw new WireError('UNKNOWN_MESSAGE', `unexpected ${what} type "${type.slice(0, 64)}"`)
  }
  return m
}

function decodeVersion(m: Fields): ProtocolVersion {
  const v = array(m, 'version', 'hello', 8)
  const [major, minor] = v
  if (!isUint16(major) || !isUint16(minor)) {
    throw new WireError('BAD_FIELD', 'hello.version must be [major, minor] small integers')
  }
  return [major, minor]
}

function isUint16(n: unknown): n is number {
  return typeof n === 'number' && Number.isInteger(n) && n >= 0 && n <= 0xffff
}

function decodeEntry(value: unknown): Entry {
  const e = asFields(value, 'entry')
  const entry: Entry = {
    path: validateSharePath(str(e, 'path', 'entry', MAX_PATH_BYTES)),
    size: uint(e, 'size', 'entry'),
    dir: bool(e, 'dir', 'entry'),
  }
  if (entry.path === '') throw new WireError('BAD_PATH', 'an entry cannot be the root')
  const mtime = optUint(e, 'mtime', 'entry', MAX_MTIME)
  if (mtime !== undefined) entry.mtime = mtime
  const files = optUint(e, 'files', 'entry')
  if (files !== undefined) entry.files = files
  return entry
}

function decodeError(m: Fields): ErrorMessage {
  const raw = str(m, 'code', 'error', 64)
  const message = str(m, 'message', 'error', MAX_ERROR_MESSAGE_CHARS)
  // A newer peer may send a code we do not know: keep its text, treat it as INTERNAL.
  const known = (PEER_ERROR_CODES as readonly string[]).includes(raw)
  return {
    type: 'error',
    code: known ? (raw as PeerErrorCode) : 'INTERNAL',
    message: known ? message : `${raw}: ${message}`,
  }
}
