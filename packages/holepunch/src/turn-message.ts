import { createHash, createHmac, timingSafeEqual } from 'node:crypto'
import { crc32 } from 'node:zlib'
import type { SocketAddress } from './datagram-socket'
import { HolepunchError } from './errors'
import { formatIPv6, isStunMessage, STUN_HEADER_BYTES, STUN_MAGIC_COOKIE } from './stun-message'

// RFC 8656 (TURN) on the RFC 8489 message layout. Methods ≤ 0xf, so type = method | class bits.
export const TURN_METHOD = {
  allocate: 0x003,
  refresh: 0x004,
  send: 0x006,
  data: 0x007,
  createPermission: 0x008,
  channelBind: 0x009,
} as const
export type TurnMethod = (typeof TURN_METHOD)[keyof typeof TURN_METHOD]
export type StunClass = 'request' | 'indication' | 'success' | 'error'
const CLASS_BITS: Record<StunClass, number> = {
  request: 0x0000,
  indication: 0x0010,
  success: 0x0100,
  error: 0x0110,
}

export const ATTR = {
  username: 0x0006,
  messageIntegrity: 0x0008,
  errorCode: 0x0009,
  unknownAttributes: 0x000a,
  channelNumber: 0x000c,
  lifetime: 0x000d,
  xorPeerAddress: 0x0012,
  data: 0x0013,
  realm: 0x0014,
  nonce: 0x0015,
  xorRelayedAddress: 0x0016,
  requestedAddressFamily: 0x0017,
  evenPort: 0x0018,
  requestedTransport: 0x0019,
  dontFragment: 0x001a,
  xorMappedAddress: 0x0020,
  reservationToken: 0x0022,
  software: 0x8022,
  fingerprint: 0x8028,
} as const
const FINGERPRINT_XOR = 0x5354554e

/** Comprehension-required attributes a TURN response may carry that we read or may ignore. */
const UNDERSTOOD_REQUIRED = new Set<number>([
  ATTR.username,
  ATTR.messageIntegrity,
  ATTR.errorCode,
  ATTR.unknownAttributes,
  ATTR.channelNumber,
  ATTR.lifetime,
  ATTR.xorPeerAddress,
  ATTR.data,
  ATTR.realm,
  ATTR.nonce,
  ATTR.xorRelayedAddress,
  ATTR.requestedAddressFamily,
  ATTR.evenPort,
  ATTR.requestedTransport,
  ATTR.dontFragment,
  ATTR.xorMappedAddress,
  ATTR.reservationToken,
  0x0001, // MAPPED-ADDRESS
  0x001c, // MESSAGE-INTEGRITY-SHA256
  0x001d, // PASSWORD-ALGORITHM
  0x001e, // USERHASH
])

/** RFC 8489 §14.9/14.10: REALM and NONCE are under 128 characters, at most 763 bytes. */
export const MAX_REALM_BYTES = 763
export const MAX_NONCE_BYTES = 763
/** A response with more attributes than this is hostile (a real one has under ten). */
const MAX_ATTRIBUTES = 32
/** Channel numbers the client may bind (RFC 8656 §12). */
export const CHANNEL_MIN = 0x4000
export const CHANNEL_MAX = 0x4fff

export type Attribute = readonly [type: number, value: Uint8Array]

export interface TurnMessage {
  method: number
  cls: StunClass
  transactionId: Uint8Array
  /** First occurrence of each attribute (later duplicates are ignored, RFC 8489 §14). */
  attributes: Map<number, Uint8Array>
  /** Offset of MESSAGE-INTEGRITY, when present (for {@link verifyIntegrity}). */
  integrityOffset?: number
}

/** The long-term credential key (RFC 8489 §9.2.2): MD5(username ":" realm ":" password). */
export function longTermKey(username: string, realm: string, password: string): Uint8Array {
  return new Uint8Array(createHash('md5').update(`${username}:${realm}:${password}`).digest())
}

/**
 * Encodes a STUN message with the given attributes, then MESSAGE-INTEGRITY when `key` is given,
 * then FINGERPRINT (so the server can tell our STUN from other traffic on its port).
 */
export function encodeTurnMessage(
  method: number,
  cls: StunClass,
  transactionId: Uint8Array,
  attributes: readonly Attribute[],
  key?: Uint8Array,
): Uint8Array {
  let body = 0
  for (const [, value] of attributes) body += 4 + pad4(value.length)
  const total = STUN_HEADER_BYTES + body + (key ? 24 : 0) + 8
  const out = new Uint8Array(total)
  const view = new DataView(out.buffer)
  view.setUint16(0, method | CLASS_BITS[cls])
  view.setUint32(4, STUN_MAGIC_COOKIE)
  out.set(transactionId, 8)
  let offset = STUN_HEADER_BYTES
  for (const [type, value] of attributes) {
    view.setUint16(offset, type)
    view.setUint16(offset + 2, value.length)
    out.set(value, offset + 4)
    offset += 4 + pad4(value.length)
  }
  if (key) {
    // The length field counts up to and including MESSAGE-INTEGRITY while the HMAC is computed.
    view.setUint16(2, offset + 24 - STUN_HEADER_BYTES)
    const mac = createHmac('sha1', key).update(out.subarray(0, offset)).digest()
    view.setUint16(offset, ATTR.messageIntegrity)
    view.setUint16(offset + 2, 20)
    out.set(mac, offset + 4)
    offset += 24
  }
  view.setUint16(2, offset + 8 - STUN_HEADER_BYTES)
  view.setUint16(offset, ATTR.fingerprint)
  view.setUint16(offset + 2, 4)
  view.setUint32(offset + 4, (crc32(out.subarray(0, offset)) ^ FINGERPRINT_XOR) >>> 0)
  return out
}

/**
 * Decodes any STUN message (request, indication, response). Returns `undefined` for what is not
 * STUN or has a bad FINGERPRINT (silently ignored, RFC 8489). Throws `TURN_BAD_RESPONSE` for a
 * broken message or a response with an unknown comprehension-required attribute.
 */
export function decodeTurnMessage(data: Uint8Array): TurnMessage | undefined {
  if (!isStunMessage(data)) return undefined
  const view = new DataView(data.buffer, data.byteOffset, data.byteLength)
  const type = view.getUint16(0)
  const classBits = type & 0x0110
  const cls: StunClass =
    classBits === 0x0000
      ? 'request'
      : classBits === 0x0010
        ? 'indication'
        : classBits === 0x0100
          ? 'success'
          : 'error'
  const method = (type & 0x000f) | ((type & 0x00e0) >> 1) | ((type & 0x3e00) >> 2)
  const transactionId = new Uint8Array(data.subarray(8, STUN_HEADER_BYTES))
  const attributes = new Map<number, Uint8Array>()
  const unknown: number[] = []
  let integrityOffset: number | undefined
  let count = 0
  let offset = STUN_HEADER_BYTES
  while (offset < data.length) {
    if (++count > MAX_ATTRIBUTES) throw bad(`more than ${MAX_ATTRIBUTES} attributes`)
    if (offset + 4 > data.length) throw bad('attribute header runs past the message')
    const attrType = view.getUint16(offset)
    const length = view.getUint16(offset + 2)
    const end = offset + 4 + length
    if (end > data.length) throw bad(`attribute 0x${hex16(attrType)} runs past the message`)
    if (attrType === ATTR.fingerprint) {
      if (length !== 4 || end !== data.length) return undefined
      const expected = (crc32(data.subarray(0, offset)) ^ FINGERPRINT_XOR) >>> 0
      if (view.getUint32(offset + 4) !== expected) return undefined
    } else if (integrityOffset === undefined) {
      // Attributes after MESSAGE-INTEGRITY (but FINGERPRINT) are not covered by it: ignored.
      if (attrType === ATTR.messageIntegrity) integrityOffset = offset
      if (!attributes.has(attrType)) attributes.set(attrType, data.subarray(offset + 4, end))
      if (attrType < 0x8000 && !UNDERSTOOD_REQUIRED.has(attrType)) unknown.push(attrType)
    }
    offset = end + ((4 - (length % 4)) % 4)
  }
  if (unknown.length > 0 && (cls === 'success' || cls === 'error')) {
    throw bad(
      `unknown comprehension-required attribute(s) ${unknown.map((t) => `0x${hex16(t)}`).join(', ')}`,
    )
  }
  const message: TurnMessage = { method, cls, transactionId, attributes }
  if (integrityOffset !== undefined) message.integrityOffset = integrityOffset
  return message
}

/** True when the message's MESSAGE-INTEGRITY is present and matches `key`. */
export function verifyIntegrity(data: Uint8Array, message: TurnMessage, key: Uint8Array): boolean {
  const at = message.integrityOffset
  if (at === undefined) return false
  const mac = message.attributes.get(ATTR.messageIntegrity)
  if (mac === undefined || mac.length !== 20) return false
  const covered = new Uint8Array(data.subarray(0, at))
  new DataView(covered.buffer).setUint16(2, at + 24 - STUN_HEADER_BYTES)
  const expected = createHmac('sha1', key).update(covered).digest()
  return timingSafeEqual(expected, mac)
}

/** ERROR-CODE of an error response: code 300–699 and a reason cut to 128 characters. */
export function errorCodeOf(message: TurnMessage): { code: number; reason: string } {
  const value = message.attributes.get(ATTR.errorCode)
  if (value === undefined || value.length < 4) throw bad('error response without ERROR-CODE')
  const code = (value[2]! & 0x07) * 100 + value[3]!
  if (code < 300 || code > 699) throw bad(`ERROR-CODE ${code} out of range`)
  return { code, reason: text(value.subarray(4), MAX_REALM_BYTES).slice(0, 128) }
}

/** A REALM or NONCE value: bounded, as text. */
export function boundedText(message: TurnMessage, type: number, max: number): string | undefined {
  const value = message.attributes.get(type)
  if (value === undefined) return undefined
  if (value.length === 0 || value.length > max) {
    throw bad(`attribute 0x${hex16(type)} is ${value.length} bytes (1..${max} allowed)`)
  }
  return text(value, max)
}

/** LIFETIME in seconds, when present. */
export function lifetimeOf(message: TurnMessage): number | undefined {
  const value = message.attributes.get(ATTR.lifetime)
  if (value === undefined) return undefined
  if (value.length !== 4) throw bad(`LIFETIME is ${value.length} bytes`)
  return new DataView(value.buffer, value.byteOffset, 4).getUint32(0)
}

export function encodeXorAddress(address: SocketAddress, transactionId: Uint8Array): Uint8Array {
  const v6 = address.host.includes(':')
  const raw = v6 ? ipv6Bytes(address.host) : ipv4Bytes(address.host)
  const out = new Uint8Array(4 + raw.length)
  out[1] = v6 ? 0x02 : 0x01
  const port = address.port ^ (STUN_MAGIC_COOKIE >>> 16)
  out[2] = port >> 8
  out[3] = port & 0xff
  const mask = xorMask(transactionId)
  for (let i = 0; i < raw.length; i++) out[4 + i] = raw[i]! ^ mask[i]!
  return out
}

export function decodeXorAddress(
  value: Uint8Array | undefined,
  transactionId: Uint8Array,
  what: string,
): SocketAddress {
  if (value === undefined) throw bad(`${what} missing`)
  const family = value[1]
  const length = family === 0x01 ? 4 : family === 0x02 ? 16 : 0
  if (value.length < 4 || length === 0 || value.length !== 4 + length) {
    throw bad(`${what} is malformed (${value.length} bytes, family ${family ?? '-'})`)
  }
  const port = ((value[2]! << 8) | value[3]!) ^ (STUN_MAGIC_COOKIE >>> 16)
  const mask = xorMask(transactionId)
  const raw = value.subarray(4).map((b, i) => b ^ mask[i]!)
  return { host: length === 4 ? raw.join('.') : formatIPv6(raw), port }
}

export function uint32(n: number): Uint8Array {
  const out = new Uint8Array(4)
  new DataView(out.buffer).setUint32(0, n >>> 0)
  return out
}

/** ChannelData (RFC 8656 §12.4): 2-byte channel, 2-byte length, data (no padding over UDP). */
export function encodeChannelData(channel: number, data: Uint8Array): Uint8Array {
  const out = new Uint8Array(4 + data.length)
  const view = new DataView(out.buffer)
  view.setUint16(0, channel)
  view.setUint16(2, data.length)
  out.set(data, 4)
  return out
}

/** A ChannelData message's channel and data, or `undefined` when `data` is not one. */
export function decodeChannelData(
  data: Uint8Array,
): { channel: number; data: Uint8Array } | undefined {
  if (data.length < 4 || (data[0]! & 0xc0) !== 0x40) return undefined
  const channel = (data[0]! << 8) | data[1]!
  const length = (data[2]! << 8) | data[3]!
  if (channel < CHANNEL_MIN || channel > CHANNEL_MAX || 4 + length > data.length) return undefined
  return { channel, data: data.subarray(4, 4 + length) }
}

function xorMask(transactionId: Uint8Array): Uint8Array {
  const mask = new Uint8Array(16)
  new DataView(mask.buffer).setUint32(0, STUN_MAGIC_COOKIE)
  mask.set(transactionId, 4)
  return mask
}

function ipv4Bytes(host: string): Uint8Array {
  const parts = host.split('.').map(Number)
  if (parts.length !== 4 || parts.some((p) => !(p >= 0 && p <= 255))) {
    throw new HolepunchError('TURN_BAD_SERVER', `${host} is not an IPv4 address`)
  }
  return new Uint8Array(parts)
}

function ipv6Bytes(host: string): Uint8Array {
  const [head = '', tail] = host.split('::')
  const a = head ? head.split(':') : []
  const b = tail ? tail.split(':') : []
  const groups = tail === undefined ? a : [...a, ...Array(8 - a.length - b.length).fill('0'), ...b]
  if (groups.length !== 8) throw new HolepunchError('TURN_BAD_SERVER', `${host} is not IPv6`)
  const out = new Uint8Array(16)
  groups.forEach((g, i) => {
    const n = Number.parseInt(g, 16)
    out[2 * i] = n >> 8
    out[2 * i + 1] = n & 0xff
  })
  return out
}

function text(value: Uint8Array, max: number): string {
  return new TextDecoder('utf-8', { fatal: false }).decode(value.subarray(0, max))
}

function pad4(n: number): number {
  return n + ((4 - (n % 4)) % 4)
}

function hex16(n: number): string {
  return n.toString(16).padStart(4, '0')
}

function bad(message: string): HolepunchError {
  return new HolepunchError('TURN_BAD_RESPONSE', message)
}
