import { asFields, bool, type Fields, field, has, optStr, optUint, str, uint } from './check'
import { WireError } from './errors'
import { MAX_ERROR_MESSAGE_CHARS, MAX_PATH_BYTES, MAX_TEXT_CHARS } from './limits'

/** Events the peer pushes to every controller (see docs/api.md). */
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
      /** The other peer's hex key. */
      peer: string
      /** Its display name (uploads: who is downloading from us). */
      peerName?: string
      path: string
      bytes: number
      total: number
      bytesPerSecond: number
      /** `cancelled`: an upload the requester (or our stop) ended before its last byte. */
      state: TransferState
      queuePosition?: number
      error?: string
    }
  | { type: 'shares'; files: number; bytes: number }
  | {
      type: 'scan'
      share: string
      dirs: number
      files: number
      bytes: number
      skipped: number
      done: boolean
    }
  | {
      type: 'nat'
      nat: string
      portAllocation: string
      publicAddress?: { host: string; port: number }
      reason: string
    }
  | { type: 'discovery'; via: 'mqtt' | 'mdns'; state: 'online' | 'offline'; message: string }
  | { type: 'log'; level: 'info' | 'warn' | 'error'; message: string }

export const TRANSFER_STATES = [
  'queued',
  'active',
  'paused',
  'done',
  'failed',
  'cancelled',
] as const
export type TransferState = (typeof TRANSFER_STATES)[number]

export function decodeEvent(e: Fields): ApiEvent {
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
      const state = str(e, 'state', 'transfer event', 16)
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
        state: state as TransferState,
      }
      const peerName = optStr(e, 'peerName', 'transfer event', 128)
      if (peerName !== undefined) out.peerName = peerName
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
    case 'scan':
      return {
        type,
        share: str(e, 'share', 'scan event', 255),
        dirs: uint(e, 'dirs', 'scan event'),
        files: uint(e, 'files', 'scan event'),
        bytes: uint(e, 'bytes', 'scan event'),
        skipped: uint(e, 'skipped', 'scan event'),
        done: bool(e, 'done', 'scan event'),
      }
    case 'nat': {
      const out: Extract<ApiEvent, { type: 'nat' }> = {
        type,
        nat: str(e, 'nat', 'nat event', 32),
        portAllocation: str(e, 'portAllocation', 'nat event', 32),
        reason: str(e, 'reason', 'nat event', MAX_ERROR_MESSAGE_CHARS),
      }
      if (has(e, 'publicAddress')) {
        const a = asFields(field(e, 'publicAddress'), 'nat event.publicAddress')
        out.publicAddress = {
          host: str(a, 'host', 'nat event.publicAddress', 64),
          port: uint(a, 'port', 'nat event.publicAddress', 65535),
        }
      }
      return out
    }
    case 'discovery': {
      const via = str(e, 'via', 'discovery event', 8)
      const state = str(e, 'state', 'discovery event', 8)
      if ((via !== 'mqtt' && via !== 'mdns') || (state !== 'online' && state !== 'offline'))
        throw new WireError('BAD_FIELD', 'discovery event.via/state')
      return {
        type,
        via,
        state,
        message: str(e, 'message', 'discovery event', MAX_ERROR_MESSAGE_CHARS),
      }
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

/** Validates an event that arrived as JSON (a WebSocket text frame's `event`). */
export function decodeApiEventJson(value: unknown): ApiEvent {
  return decodeEvent(asFields(value, 'event'))
}
