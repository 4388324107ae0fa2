import { createHmac, timingSafeEqual } from 'node:crypto'

// Layout (40 bytes, big-endian):
//   0  4  magic "HDPH"
//   4  1  version (1)
//   5  1  kind: 1 probe, 2 ack
//   6  2  reserved, zero
//   8  8  sender nonce: random, fresh for each attempt of each side
//  16  8  echoed nonce: the nonce of the probe or ack being answered (zero in a probe)
//  24 16  MAC: HMAC-SHA256(key, bytes 0..23), first 16 bytes
// key = HMAC-SHA256(secret, "harddrive-party/1 holepunch"); secret is shared by the two peers only.
export const PUNCH_MAGIC = new Uint8Array([0x48, 0x44, 0x50, 0x48]) // "HDPH"
export const PUNCH_VERSION = 1
export const PUNCH_PACKET_BYTES = 40
export const PUNCH_NONCE_BYTES = 8
const MAC_OFFSET = 24
const MAC_BYTES = 16
const KEY_CONTEXT = 'harddrive-party/1 holepunch'

export type PunchKind = 'probe' | 'ack'

export interface PunchPacket {
  kind: PunchKind
  nonce: Uint8Array
  /** The nonce this packet answers; all zero in a probe. */
  echo: Uint8Array
}

/** The MAC key for a shared secret (at least 16 bytes, e.g. derived from topic + both keys). */
export function derivePunchKey(secret: Uint8Array): Uint8Array {
  if (!(secret instanceof Uint8Array) || secret.length < 16) {
    throw new TypeError('the punch secret must be a Uint8Array of at least 16 bytes')
  }
  return new Uint8Array(createHmac('sha256', secret).update(KEY_CONTEXT).digest())
}

export function encodePunchPacket(key: Uint8Array, packet: PunchPacket): Uint8Array {
  if (packet.nonce.length !== PUNCH_NONCE_BYTES || packet.echo.length !== PUNCH_NONCE_BYTES) {
    throw new TypeError(`nonces must be ${PUNCH_NONCE_BYTES} bytes`)
  }
  const out = new Uint8Array(PUNCH_PACKET_BYTES)
  out.set(PUNCH_MAGIC, 0)
  out[4] = PUNCH_VERSION
  out[5] = packet.kind === 'probe' ? 1 : 2
  out.set(packet.nonce, 8)
  out.set(packet.echo, 16)
  out.set(mac(key, out.subarray(0, MAC_OFFSET)), MAC_OFFSET)
  return out
}

/** Cheap pre-filter for the shared socket: does this datagram claim to be a punch packet? */
export function isPunchPacket(data: Uint8Array): boolean {
  return (
    data.length === PUNCH_PACKET_BYTES &&
    data[0] === PUNCH_MAGIC[0] &&
    data[1] === PUNCH_MAGIC[1] &&
    data[2] === PUNCH_MAGIC[2] &&
    data[3] === PUNCH_MAGIC[3]
  )
}

/**
 * Returns the packet when it is a well-formed punch packet of our version whose MAC verifies
 * under `key`; `undefined` for anything else (stray traffic, another topic, forgeries).
 */
export function decodePunchPacket(key: Uint8Array, data: Uint8Array): PunchPacket | undefined {
  if (!isPunchPacket(data) || data[4] !== PUNCH_VERSION || data[6] !== 0 || data[7] !== 0) {
    return undefined
  }
  const kind = data[5] === 1 ? 'probe' : data[5] === 2 ? 'ack' : undefined
  if (kind === undefined) return undefined
  const expected = mac(key, data.subarray(0, MAC_OFFSET))
  if (!timingSafeEqual(expected, data.subarray(MAC_OFFSET, PUNCH_PACKET_BYTES))) return undefined
  // Copies: a Buffer's slice() would be a view into the receive buffer.
  const echo = new Uint8Array(data.subarray(16, 24))
  if (kind === 'probe' && echo.some((b) => b !== 0)) return undefined
  return { kind, nonce: new Uint8Array(data.subarray(8, 16)), echo }
}

function mac(key: Uint8Array, bytes: Uint8Array): Uint8Array {
  return new Uint8Array(createHmac('sha256', key).update(bytes).digest().subarray(0, MAC_BYTES))
}
