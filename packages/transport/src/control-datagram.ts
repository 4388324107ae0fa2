/**
 * The few plaintext datagrams that set up a UDX stream between two sockets: UDX needs both
 * stream ids on both sides before any stream packet flows, so the dialer asks for one.
 *
 *   connect  dialer → acceptor   "my stream id is D, nonce N (cookie C)"
 *   accept   acceptor → dialer   "for D/N, my stream id is A" (the acceptor's stream already exists)
 *   retry    acceptor → dialer   "under load: send connect again with cookie C"
 *   reject   acceptor → dialer   "for D/N: refused (rate limited / busy)"
 *   cancel   dialer → acceptor   "forget D/N" (another carrier won the race)
 *
 * Everything after `accept` is authenticated by Noise; these datagrams carry no secret. The
 * nonce keeps off-path senders from forging answers. A `connect` is padded to the size of the
 * largest answer, so the acceptor never sends more bytes than it received (no amplification).
 *
 * Layout: magic "HDPT" | version u8 | type u8 | dialer stream id u32be | nonce(16) | ...
 */

/** First four bytes of every transport control datagram ("HDPT"). Never 0xff (UDX) or 0x00/0x01 (STUN). */
export const CONTROL_MAGIC = new Uint8Array([0x48, 0x44, 0x50, 0x54])
export const CONTROL_VERSION = 1
const NONCE_BYTES = 16
export const COOKIE_BYTES = 16
const HEAD = 4 + 1 + 1 + 4 + NONCE_BYTES
/** connect = head + cookie + padding, so it is at least as large as every answer. */
const CONNECT_BYTES = 48

export type RejectReason = 'rate-limited' | 'busy'
const REJECT_REASONS: readonly RejectReason[] = ['rate-limited', 'busy']

export type ControlDatagram =
  | { type: 'connect'; streamId: number; nonce: Uint8Array; cookie: Uint8Array | undefined }
  | { type: 'accept'; streamId: number; nonce: Uint8Array; acceptorStreamId: number }
  | { type: 'retry'; streamId: number; nonce: Uint8Array; cookie: Uint8Array }
  | { type: 'reject'; streamId: number; nonce: Uint8Array; reason: RejectReason }
  | { type: 'cancel'; streamId: number; nonce: Uint8Array }

const TYPES = ['connect', 'accept', 'retry', 'reject', 'cancel'] as const
const LENGTHS: Record<ControlDatagram['type'], number> = {
  connect: CONNECT_BYTES,
  accept: HEAD + 4,
  retry: HEAD + COOKIE_BYTES,
  reject: HEAD + 1,
  cancel: HEAD,
}

/** True when `data` starts with the control magic (whether or not the rest is valid). */
export function isControlDatagram(data: Uint8Array): boolean {
  return (
    data.length >= 4 &&
    data[0] === CONTROL_MAGIC[0] &&
    data[1] === CONTROL_MAGIC[1] &&
    data[2] === CONTROL_MAGIC[2] &&
    data[3] === CONTROL_MAGIC[3]
  )
}

export function newNonce(): Uint8Array {
  return crypto.getRandomValues(new Uint8Array(NONCE_BYTES))
}

export function encodeControlDatagram(message: ControlDatagram): Uint8Array {
  const out = new Uint8Array(LENGTHS[message.type])
  const view = new DataView(out.buffer)
  out.set(CONTROL_MAGIC, 0)
  out[4] = CONTROL_VERSION
  out[5] = TYPES.indexOf(message.type) + 1
  view.setUint32(6, message.streamId)
  out.set(message.nonce.subarray(0, NONCE_BYTES), 10)
  switch (message.type) {
    case 'connect':
      if (message.cookie !== undefined) out.set(message.cookie.subarray(0, COOKIE_BYTES), HEAD)
      break
    case 'accept':
      view.setUint32(HEAD, message.acceptorStreamId)
      break
    case 'retry':
      out.set(message.cookie.subarray(0, COOKIE_BYTES), HEAD)
      break
    case 'reject':
      out[HEAD] = REJECT_REASONS.indexOf(message.reason)
      break
    case 'cancel':
      break
  }
  return out
}

/** Parses a control datagram; anything malformed (from anyone on the network) gives `undefined`. */
export function decodeControlDatagram(data: Uint8Array): ControlDatagram | undefined {
  if (!isControlDatagram(data) || data.length < HEAD || data[4] !== CONTROL_VERSION)
    return undefined
  const type = TYPES[(data[5] ?? 0) - 1]
  if (type === undefined || data.length !== LENGTHS[type]) return undefined
  const view = new DataView(data.buffer, data.byteOffset, data.byteLength)
  const streamId = view.getUint32(6)
  const nonce = data.slice(10, HEAD)
  switch (type) {
    case 'connect': {
      const cookie = data.slice(HEAD, HEAD + COOKIE_BYTES)
      return { type, streamId, nonce, cookie: cookie.some((b) => b !== 0) ? cookie : undefined }
    }
    case 'accept':
      return { type, streamId, nonce, acceptorStreamId: view.getUint32(HEAD) }
    case 'retry':
      return { type, streamId, nonce, cookie: data.slice(HEAD, HEAD + COOKIE_BYTES) }
    case 'reject': {
      const reason = REJECT_REASONS[data[HEAD] ?? 255]
      return reason === undefined ? undefined : { type, streamId, nonce, reason }
    }
    case 'cancel':
      return { type, streamId, nonce }
  }
}
