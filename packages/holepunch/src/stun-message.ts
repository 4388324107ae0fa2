import { crc32 } from 'node:zlib'
import type { SocketAddress } from './datagram-socket'
import { HolepunchError } from './errors'

// RFC 8489 message layout: 2-byte type, 2-byte attribute length, magic cookie, 96-bit transaction id.
export const STUN_MAGIC_COOKIE = 0x2112a442
export const STUN_HEADER_BYTES = 20
export const STUN_TRANSACTION_ID_BYTES = 12

const BINDING_REQUEST = 0x0001
const BINDING_SUCCESS = 0x0101
const BINDING_ERROR = 0x0111

const ATTR_MAPPED_ADDRESS = 0x0001
const ATTR_ERROR_CODE = 0x0009
const ATTR_XOR_MAPPED_ADDRESS = 0x0020
const ATTR_SOFTWARE = 0x8022
const ATTR_FINGERPRINT = 0x8028
const ATTR_RESPONSE_ORIGIN = 0x802b
const ATTR_OTHER_ADDRESS = 0x802c
const FINGERPRINT_XOR = 0x5354554e

// Comprehension-required attributes (type < 0x8000) a Binding response may carry that we know how
// to read or may safely ignore. Any other one makes the response unusable (RFC 8489 §7.3.3),
// including RFC 3489's legacy SOURCE-ADDRESS/CHANGED-ADDRESS, which old servers still send.
const UNDERSTOOD_REQUIRED = new Set([
  ATTR_MAPPED_ADDRESS,
  0x0004, // SOURCE-ADDRESS (RFC 3489)
  0x0005, // CHANGED-ADDRESS (RFC 3489)
  0x0006, // USERNAME
  0x0008, // MESSAGE-INTEGRITY
  ATTR_ERROR_CODE,
  0x000a, // UNKNOWN-ATTRIBUTES
  0x0014, // REALM
  0x0015, // NONCE
  0x001c, // MESSAGE-INTEGRITY-SHA256
  0x001d, // PASSWORD-ALGORITHM
  0x001e, // USERHASH
  ATTR_XOR_MAPPED_ADDRESS,
])

export interface StunSuccess {
  kind: 'success'
  transactionId: Uint8Array
  /** From XOR-MAPPED-ADDRESS, or from MAPPED-ADDRESS when a legacy server sent only that. */
  mapped: SocketAddress
  /** RFC 5780 OTHER-ADDRESS: the server's alternate IP and port, when it has them. */
  otherAddress?: SocketAddress
  /** RFC 5780 RESPONSE-ORIGIN: the address the response was sent from. */
  responseOrigin?: SocketAddress
  software?: string
}

export interface StunErrorResponse {
  kind: 'error'
  transactionId: Uint8Array
  /** The STUN error code, 300–699 (e.g. 400 Bad Request). */
  code: number
  reason: string
}

export type StunResponse = StunSuccess | StunErrorResponse

/** A Binding request with a FINGERPRINT, so it can share a port with UDX and punch packets. */
export function encodeBindingRequest(transactionId: Uint8Array): Uint8Array {
  if (transactionId.length !== STUN_TRANSACTION_ID_BYTES) {
    throw new TypeError(`transaction id must be ${STUN_TRANSACTION_ID_BYTES} bytes`)
  }
  const out = new Uint8Array(STUN_HEADER_BYTES + 8)
  const view = new DataView(out.buffer)
  view.setUint16(0, BINDING_REQUEST)
  view.setUint16(2, 8)
  view.setUint32(4, STUN_MAGIC_COOKIE)
  out.set(transactionId, 8)
  view.setUint16(20, ATTR_FINGERPRINT)
  view.setUint16(22, 4)
  view.setUint32(24, (crc32(out.subarray(0, 20)) ^ FINGERPRINT_XOR) >>> 0)
  return out
}

/**
 * True when `data` has the shape of a STUN message: top two bits zero, the magic cookie, and a
 * length that matches the datagram. Anything else on the shared port is someone else's traffic.
 */
export function isStunMessage(data: Uint8Array): boolean {
  if (data.length < STUN_HEADER_BYTES || (data[0]! & 0xc0) !== 0) return false
  const view = new DataView(data.buffer, data.byteOffset, data.byteLength)
  return (
    view.getUint32(4) === STUN_MAGIC_COOKIE &&
    view.getUint16(2) === data.length - STUN_HEADER_BYTES &&
    view.getUint16(2) % 4 === 0
  )
}

/** The transaction id of a message that passed {@link isStunMessage}. */
export function stunTransactionId(data: Uint8Array): Uint8Array {
  return data.subarray(8, STUN_HEADER_BYTES)
}

/**
 * Decodes a Binding success or error response. Returns `undefined` for anything that is not a
 * Binding response (not STUN, a request or indication, another method, a bad FINGERPRINT: all
 * are silently ignored per RFC 8489). Throws `STUN_BAD_RESPONSE` for a response that is broken
 * or carries an unknown comprehension-required attribute.
 */
export function decodeBindingResponse(data: Uint8Array): StunResponse | undefined {
  if (!isStunMessage(data)) return undefined
  const view = new DataView(data.buffer, data.byteOffset, data.byteLength)
  const type = view.getUint16(0)
  if (type !== BINDING_SUCCESS && type !== BINDING_ERROR) return undefined
  // Copies, never views: a Buffer's slice() shares memory and the XOR below would corrupt it.
  const transactionId = copy(data.subarray(8, STUN_HEADER_BYTES))

  let xorMapped: SocketAddress | undefined
  let mapped: SocketAddress | undefined
  let otherAddress: SocketAddress | undefined
  let responseOrigin: SocketAddress | undefined
  let software: string | undefined
  let errorCode: { code: number; reason: string } | undefined
  const unknown: number[] = []

  let offset = STUN_HEADER_BYTES
  while (offset < data.length) {
    if (offset + 4 > data.length) throw bad('attribute header runs past the message')
    const attrType = view.getUint16(offset)
    const length = view.getUint16(offset + 2)
    const start = offset + 4
    const end = start + length
    if (end > data.length) throw bad(`attribute 0x${hex16(attrType)} runs past the message`)
    const value = data.subarray(start, end)
    if (attrType === ATTR_FINGERPRINT) {
      // FINGERPRINT must be last; a mismatch means the datagram is not STUN at all.
      if (length !== 4 || end !== data.length) return undefined
      const expected = (crc32(data.subarray(0, offset)) ^ FINGERPRINT_XOR) >>> 0
      if (view.getUint32(start) !== expected) return undefined
    } else if (attrType === ATTR_XOR_MAPPED_ADDRESS) {
      xorMapped ??= decodeAddress(value, transactionId, true)
    } else if (attrType === ATTR_MAPPED_ADDRESS) {
      mapped ??= decodeAddress(value, transactionId, false)
    } else if (attrType === ATTR_OTHER_ADDRESS) {
      otherAddress ??= decodeAddress(value, transactionId, false)
    } else if (attrType === ATTR_RESPONSE_ORIGIN) {
      responseOrigin ??= decodeAddress(value, transactionId, false)
    } else if (attrType === ATTR_SOFTWARE) {
      software ??= new TextDecoder('utf-8', { fatal: false }).decode(value).slice(0, 128)
    } else if (attrType === ATTR_ERROR_CODE) {
      if (length < 4) throw bad('ERROR-CODE shorter than 4 bytes')
      const code = (value[2]! & 0x07) * 100 + value[3]!
      errorCode ??= {
        code,
        reason: new TextDecoder('utf-8', { fatal: false }).decode(value.subarray(4)).slice(0, 128),
      }
    } else if (attrType < 0x8000 && !UNDERSTOOD_REQUIRED.has(attrType)) {
      unknown.push(attrType)
    }
    offset = end + ((4 - (length % 4)) % 4)
  }
  if (unknown.length > 0) {
    throw bad(
      `unknown comprehension-required attribute(s) ${unknown.map((t) => `0x${hex16(t)}`).join(', ')}`,
    )
  }
  if (type === BINDING_ERROR) {
    if (errorCode === undefined) throw bad('error response without ERROR-CODE')
    return { kind: 'error', transactionId, ...errorCode }
  }
  const address = xorMapped ?? mapped
  if (address === undefined)
    throw bad('success response without XOR-MAPPED-ADDRESS or MAPPED-ADDRESS')
  const out: StunSuccess = { kind: 'success', transactionId, mapped: address }
  if (otherAddress !== undefined) out.otherAddress = otherAddress
  if (responseOrigin !== undefined) out.responseOrigin = responseOrigin
  if (software !== undefined) out.software = software
  return out
}

function decodeAddress(value: Uint8Array, transactionId: Uint8Array, xor: boolean): SocketAddress {
  if (value.length < 4) throw bad('address attribute shorter than 4 bytes')
  const family = value[1]
  const length = family === 0x01 ? 4 : family === 0x02 ? 16 : 0
  if (length === 0)
    throw bad(`address family 0x${(family ?? 0).toString(16)} is neither IPv4 nor IPv6`)
  if (value.length !== 4 + length) throw bad(`address attribute is ${value.length} bytes`)
  let port = (value[2]! << 8) | value[3]!
  const address = copy(value.subarray(4))
  if (xor) {
    port ^= STUN_MAGIC_COOKIE >>> 16
    const mask = new Uint8Array(16)
    new DataView(mask.buffer).setUint32(0, STUN_MAGIC_COOKIE)
    mask.set(transactionId, 4)
    for (let i = 0; i < address.length; i++) address[i]! ^= mask[i]!
  }
  return { host: length === 4 ? address.join('.') : formatIPv6(address), port }
}

/** RFC 5952 text of 16 address bytes. */
export function formatIPv6(bytes: Uint8Array): string {
  const groups: number[] = []
  for (let i = 0; i < 16; i += 2) groups.push((bytes[i]! << 8) | bytes[i + 1]!)
  // RFC 5952: compress the longest run (two or more) of zero groups.
  let bestStart = -1
  let bestLength = 0
  for (let i = 0; i < 8; ) {
    if (groups[i] !== 0) {
      i++
      continue
    }
    let j = i
    while (j < 8 && groups[j] === 0) j++
    if (j - i > bestLength && j - i >= 2) {
      bestStart = i
      bestLength = j - i
    }
    i = j
  }
  const text = groups.map((g) => g.toString(16))
  if (bestStart < 0) return text.join(':')
  const head = text.slice(0, bestStart).join(':')
  const tail = text.slice(bestStart + bestLength).join(':')
  return `${head}::${tail}`
}

function copy(bytes: Uint8Array): Uint8Array {
  return new Uint8Array(bytes)
}

function hex16(n: number): string {
  return n.toString(16).padStart(4, '0')
}

function bad(message: string): HolepunchError {
  return new HolepunchError('STUN_BAD_RESPONSE', message)
}
