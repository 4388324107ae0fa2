import { decodeCbor, encodeCbor } from './cbor'
import {
  asFields,
  bool,
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
  | {
      type: 'shares'
      path: string
      recursive?: boolean
      search?: string
      cursor?: Uint8Array
      limit?: number
    }
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
  | { type: 'stop' }

export type ApiCommandType = ApiCommand['type']

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
  'INTERNAL',
] as const
export type ApiErrorCode = (typeof API_ERROR_CODES)[number]

export type ApiEvent =
  | {
      type: 'peer'
      key: string
      name: string
      state: 'connected' | 'disconnected'
      topics?: string[]
    }
  | { type: 'topics'; topics: { name: string; joined: boolean }[] }
  | {
      type: 'transfer'
      direction: 'download' | 'upload'
      requestId: string
      peer: string
      path: string
      bytes: number
      total: number
      bytesPerSecond: number
      state: 'queued' | 'active' | 'paused' | 'done' | 'failed'
      queuePosition?: number
      error?: string
    }
  | { type: 'shares'; files: number; bytes: number }
  | { type: 'log'; level: 'info' | 'warn' | 'error'; message: string }

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

function decodeCommand(c: Fields): ApiCommand {
  const type = field(c, 'type')
  const w = `command ${String(type).slice(0, 32)}`
  switch (type) {
    case 'info':
    case 'topics':
    case 'peers':
    case 'rescan':
    case 'stop':
      return { type }
    case 'join':
    case 'leave':
      return { type, topic: validateTopicName(str(c, 'topic', w, MAX_TEXT_CHARS)) }
    case 'ls':
    case 'shares': {
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
      if (type === 'shares') {
        const { peer: _unused, ...rest } = out
        return { ...rest, type: 'shares' }
      }
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

const TRANSFER_STATES = ['queued', 'active', 'paused', 'done', 'failed'] as const

function decodeEvent(e: Fields): ApiEvent {
  const type = field(e, 'type')
  switch (type) {
    case 'peer': {
      const state = str(e, 'state', 'peer event', 16)
      if (state !== 'connected' && state !== 'disconnected')
        throw new WireError('BAD_FIELD', 'peer event.state')
      return {
        type,
        key: str(e, 'key', 'peer event', 64),
        name: str(e, 'name', 'peer event', 128),
        state,
      }
    }
    case 'topics': {
      const topics = field(e, 'topics')
      if (!Array.isArray(topics))
        throw new WireError('BAD_FIELD', 'topics event.topics must be an array')
      return {
        type,
        topics: topics.map((t) => {
          const f = asFields(t, 'topic')
          return {
            name: str(f, 'name', 'topic', MAX_TEXT_CHARS),
            joined: bool(f, 'joined', 'topic'),
          }
        }),
      }
    }
    case 'transfer': {
      const direction = str(e, 'direction', 'transfer event', 8)
      const state = str(e, 'state', 'transfer event', 8)
      if (
        (direction !== 'download' && direction !== 'upload') ||
        !(TRANSFER_STATES as readonly string[]).includes(state)
      ) {
        throw new WireError('BAD_FIELD', 'transfer event.direction/state')
      }
      const out: Extract<ApiEvent, { type: 'transfer' }> = {
        type,
        direction,
        requestId: str(e, 'requestId', 'transfer event', 128),
        peer: str(e, 'peer', 'transfer event', 128),
        path: str(e, 'path', 'transfer event', MAX_PATH_BYTES),
        bytes: uint(e, 'bytes', 'transfer event'),
        total: uint(e, 'total', 'transfer event'),
        bytesPerSecond: uint(e, 'bytesPerSecond', 'transfer event'),
        state: state as (typeof TRANSFER_STATES)[number],
      }
      const pos = optUint(e, 'queuePosition', 'transfer event')
      if (pos !== undefined) out.queuePosition = pos
      const error = optStr(e, 'error', 'transfer event', MAX_ERROR_MESSAGE_CHARS)
      if (error !== undefined) out.error = error
      return out
    }
    case 'shares':
      return {
        type,
        files: uint(e, 'files', 'shares event'),
        bytes: uint(e, 'bytes', 'shares event'),
      }
    case 'log': {
      const level = str(e, 'level', 'log event', 8)
      if (level !== 'info' && level !== 'warn' && level !== 'error')
        throw new WireError('BAD_FIELD', 'log event.level')
      return { type, level, message: str(e, 'message', 'log event', MAX_ERROR_MESSAGE_CHARS) }
    }
    default:
      throw new WireError('UNKNOWN_MESSAGE', `unknown api event "${String(type).slice(0, 32)}"`)
  }
}
