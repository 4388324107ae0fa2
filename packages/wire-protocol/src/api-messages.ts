import { hexToBytes } from '@noble/hashes/utils.js'
import { type ApiEvent, decodeEvent } from './api-events'
import { decodeCbor, encodeCbor } from './cbor'
import {
  asFields,
  type Fields,
  field,
  has,
  hasControlChar,
  optBool,
  optBytes,
  optStr,
  optUint,
  str,
  uint,
} from './check'
import { WireError } from './errors'
import {
  MAX_CURSOR_BYTES,
  MAX_ERROR_MESSAGE_CHARS,
  MAX_LS_LIMIT,
  MAX_PATH_BYTES,
  MAX_SEARCH_BYTES,
  MAX_TEXT_CHARS,
} from './limits'
import { validateSharePath } from './path'
import { validateTopicName } from './topic'

export type { ApiEvent }

/**
 * Messages between a running peer and its controllers (web UI, CLI) over the local
 * WebSocket. A controller sends {@link ApiRequest}s; the peer answers each `id` with zero or
 * more `result` messages and then one `end` or one `error`, and pushes `event`s to everyone.
 */

/** A peer, named by its hex public key (64 characters) or its adjective+animal name. */
export type PeerRef = string

export type ApiCommand =
  | { type: 'info' }
  | { type: 'join'; topic: string }
  | { type: 'leave'; topic: string }
  | { type: 'topics' }
  | { type: 'peers' }
  | {
      type: 'ls'
      peer?: PeerRef
      path: string
      recursive?: boolean
      search?: string
      cursor?: Uint8Array
      limit?: number
    }
  | { type: 'shares' }
  | { type: 'add-share'; dir: string }
  | { type: 'remove-share'; name: string }
  | { type: 'rescan' }
  | { type: 'download'; peer: PeerRef; path: string }
  | { type: 'queue'; peer?: PeerRef }
  | { type: 'pause'; requestId: string }
  | { type: 'resume'; requestId: string }
  | { type: 'cancel'; requestId: string }
  | { type: 'reorder'; requestId: string; position: number }
  | { type: 'read'; peer: PeerRef; path: string; offset?: number; length?: number }
  | { type: 'limits' }
  | ({ type: 'set-limits' } & ApiLimitChanges)
  | { type: 'uploads' }
  | { type: 'stop' }

export type ApiCommandType = ApiCommand['type']

/**
 * The limits a controller may change while the peer runs (`set-limits`): upload slots and
 * byte rates (bytes/s, 0 = unlimited). At least one; the peer applies them at once and keeps
 * them for its next start.
 */
export interface ApiLimitChanges {
  uploadSlots?: number
  uploadBytesPerSecond?: number
  uploadBytesPerSecondPerPeer?: number
  downloadBytesPerSecond?: number
  downloadBytesPerSecondPerPeer?: number
}

/** Most upload slots `set-limits` takes (each slot is one file read at once). */
export const MAX_UPLOAD_SLOTS = 64
/** Largest rate `set-limits` takes, bytes/s (1 TiB/s: anything above is "unlimited", say 0). */
export const MAX_RATE_BYTES_PER_SECOND = 2 ** 40

const RATE_LIMIT_KEYS = [
  'uploadBytesPerSecond',
  'uploadBytesPerSecondPerPeer',
  'downloadBytesPerSecond',
  'downloadBytesPerSecondPerPeer',
] as const

export interface ApiRequest {
  id: number
  command: ApiCommand
}

export const API_ERROR_CODES = [
  'BAD_REQUEST',
  'NOT_FOUND',
  'UNAUTHORIZED',
  'PEER_UNAVAILABLE',
  'CONFLICT',
  'UNSUPPORTED_VERSION',
  'FORBIDDEN',
  'TOO_LARGE',
  'BAD_RANGE',
  'BUSY',
  'INTERNAL',
] as const
export type ApiErrorCode = (typeof API_ERROR_CODES)[number]

export type ApiServerMessage =
  | { type: 'result'; id: number; data: unknown }
  | { type: 'end'; id: number }
  | { type: 'error'; id: number; code: ApiErrorCode; message: string }
  | { type: 'event'; event: ApiEvent }

export function encodeApiMessage(message: ApiRequest | ApiServerMessage): Uint8Array {
  return encodeCbor(message)
}

const MAX_REQUEST_ID = 2 ** 32 - 1
const MAX_LOCAL_PATH_CHARS = 4096

/** Decodes and validates a request from a controller (untrusted: any local process). */
export function decodeApiRequest(buf: Uint8Array): ApiRequest {
  const m = asFields(decodeCbor(buf), 'api request')
  const id = uint(m, 'id', 'api request', MAX_REQUEST_ID)
  return { id, command: decodeCommand(asFields(field(m, 'command'), 'api request.command')) }
}

/** Validates a command that arrived as JSON (a cursor is then a hex string). */
export function decodeApiCommandJson(value: unknown): ApiCommand {
  const c: Fields = Object.assign(Object.create(null), asFields(value, 'api command'))
  const cursor = c.cursor
  if (typeof cursor === 'string') c.cursor = cursorFromHex(cursor)
  return decodeCommand(c)
}

/** Validates a request (`{ id, command }`) that arrived as JSON text (a WebSocket frame). */
export function decodeApiRequestJson(value: unknown): ApiRequest {
  const m = asFields(value, 'api request')
  const id = uint(m, 'id', 'api request', MAX_REQUEST_ID)
  return { id, command: decodeApiCommandJson(field(m, 'command')) }
}

function cursorFromHex(text: string): Uint8Array {
  if (text.length > MAX_CURSOR_BYTES * 2 || !/^(?:[0-9a-f]{2})*$/.test(text))
    throw new WireError('BAD_FIELD', 'command.cursor must be lowercase hex')
  return hexToBytes(text)
}

function decodeCommand(c: Fields): ApiCommand {
  const type = field(c, 'type')
  const w = `command ${String(type).slice(0, 32)}`
  switch (type) {
    case 'info':
    case 'shares':
    case 'topics':
    case 'peers':
    case 'rescan':
    case 'limits':
    case 'uploads':
    case 'stop':
      return { type }
    case 'set-limits':
      return { type, ...limitChanges(c, w) }
    case 'join':
    case 'leave':
      return { type, topic: validateTopicName(str(c, 'topic', w, MAX_TEXT_CHARS)) }
    case 'ls': {
      const out: Extract<ApiCommand, { type: 'ls' }> = {
        type: 'ls',
        path: validateSharePath(str(c, 'path', w, MAX_PATH_BYTES)),
      }
      const peer = optPeer(c, w)
      if (peer !== undefined) out.peer = peer
      const recursive = optBool(c, 'recursive', w)
      if (recursive !== undefined) out.recursive = recursive
      const search = optStr(c, 'search', w, MAX_SEARCH_BYTES)
      if (search !== undefined) out.search = search
      const cursor = optBytes(c, 'cursor', w, { max: MAX_CURSOR_BYTES })
      if (cursor !== undefined) out.cursor = cursor
      const limit = optUint(c, 'limit', w, MAX_LS_LIMIT)
      if (limit !== undefined) out.limit = limit
      return out
    }
    case 'add-share':
      return { type, dir: localPath(c, 'dir', w) }
    case 'remove-share':
      return { type, name: str(c, 'name', w, 255) }
    case 'download': {
      const path = validateSharePath(str(c, 'path', w, MAX_PATH_BYTES))
      if (path === '') throw new WireError('BAD_PATH', 'download needs a path below the root')
      return { type, peer: peer(c, w), path }
    }
    case 'queue': {
      const p = optPeer(c, w)
      return p === undefined ? { type } : { type, peer: p }
    }
    case 'pause':
    case 'resume':
    case 'cancel':
      return { type, requestId: str(c, 'requestId', w, 128) }
    case 'reorder':
      return { type, requestId: str(c, 'requestId', w, 128), position: uint(c, 'position', w) }
    case 'read': {
      const out: Extract<ApiCommand, { type: 'read' }> = {
        type,
        peer: peer(c, w),
        path: validateSharePath(str(c, 'path', w, MAX_PATH_BYTES)),
      }
      const offset = optUint(c, 'offset', w)
      if (offset !== undefined) out.offset = offset
      const length = optUint(c, 'length', w)
      if (length !== undefined) out.length = length
      return out
    }
    default:
      throw new WireError('UNKNOWN_MESSAGE', `unknown api command "${String(type).slice(0, 32)}"`)
  }
}

function limitChanges(c: Fields, w: string): ApiLimitChanges {
  const out: ApiLimitChanges = {}
  for (const key of Object.keys(c)) {
    if (
      key !== 'type' &&
      key !== 'uploadSlots' &&
      !(RATE_LIMIT_KEYS as readonly string[]).includes(key)
    )
      throw new WireError('BAD_FIELD', `${w}: unknown limit "${key.slice(0, 32)}"`)
  }
  const slots = optUint(c, 'uploadSlots', w, MAX_UPLOAD_SLOTS)
  if (slots !== undefined) {
    if (slots < 1) throw new WireError('BAD_FIELD', `${w}.uploadSlots must be at least 1`)
    out.uploadSlots = slots
  }
  for (const key of RATE_LIMIT_KEYS) {
    const rate = optUint(c, key, w, MAX_RATE_BYTES_PER_SECOND)
    if (rate !== undefined) out[key] = rate
  }
  if (Object.keys(out).length === 0)
    throw new WireError('BAD_FIELD', `${w} needs at least one limit to change`)
  return out
}

function peer(c: Fields, w: string): PeerRef {
  const p = str(c, 'peer', w, 128)
  if (p.length === 0 || hasControlChar(p) || p.includes('/'))
    throw new WireError('BAD_FIELD', `${w}.peer is not a peer name or key`)
  return p
}

function optPeer(c: Fields, w: string): PeerRef | undefined {
  return has(c, 'peer') ? peer(c, w) : undefined
}

function localPath(c: Fields, key: string, w: string): string {
  const p = str(c, key, w, MAX_LOCAL_PATH_CHARS)
  if (p.length === 0 || p.includes('\0'))
    throw new WireError('BAD_PATH', `${w}.${key} must be a non-empty path without NUL`)
  return p
}

/** Decodes a message from the peer (for controllers). Unknown event types are `UNKNOWN_MESSAGE`. */
export function decodeApiServerMessage(buf: Uint8Array): ApiServerMessage {
  const m = asFields(decodeCbor(buf), 'api message')
  const type = field(m, 'type')
  switch (type) {
    case 'result':
      return { type, id: uint(m, 'id', 'result', MAX_REQUEST_ID), data: field(m, 'data') }
    case 'end':
      return { type, id: uint(m, 'id', 'end', MAX_REQUEST_ID) }
    case 'error': {
      const code = str(m, 'code', 'error', 64)
      return {
        type,
        id: uint(m, 'id', 'error', MAX_REQUEST_ID),
        code: (API_ERROR_CODES as readonly string[]).includes(code)
          ? (code as ApiErrorCode)
          : 'INTERNAL',
        message: str(m, 'message', 'error', MAX_ERROR_MESSAGE_CHARS),
      }
    }
    case 'event':
      return { type, event: decodeEvent(asFields(field(m, 'event'), 'event')) }
    default:
      throw new WireError('UNKNOWN_MESSAGE', `unknown api message "${String(type).slice(0, 32)}"`)
  }
}
