/**
 * Frames of the stream multiplexer. Every encrypted message on a connection carries one or
 * more whole frames: `type u8 | stream id u32be | payload length u32be | payload`.
 * Stream 0 is the connection itself (hello, ping, close).
 */
export const MUX_HEADER_BYTES = 9

export const FrameType = {
  /** Stream 0. Payload: a wire-protocol hello, framed with `encodeFrame`. */
  HELLO: 1,
  /** Opens a stream; ids are odd from the dialer and even from the acceptor, always increasing. */
  OPEN: 2,
  /** Stream bytes; never more than the receiver's remaining window. */
  DATA: 3,
  /** The sender will write no more on this stream (half-close). */
  END: 4,
  /** Aborts both directions. Payload: reset code u8, reason (UTF-8). */
  RESET: 5,
  /** Receiver grants more window. Payload: increment u32be. */
  WINDOW: 6,
  /** Stream 0. Payload: 8 opaque bytes, echoed by PONG. */
  PING: 7,
  PONG: 8,
  /** Stream 0. The sender closes the connection. Payload: close code u8, reason (UTF-8). */
  CLOSE: 9,
  /** The sender has bytes queued but no window left: the receiver may grow the window. */
  BLOCKED: 10,
  /** The receiver stopped reading (left its read loop): the sender should stop writing. */
  STOP: 11,
} as const
export type FrameTypeValue = (typeof FrameType)[keyof typeof FrameType]

/** Window every stream starts with in each direction (both sides assume it). */
export const INITIAL_WINDOW_BYTES = 256 * 1024
/**
 * Smallest window of a stream on a TCP carrier. A 256 KiB window is one 256 KiB message: the
 * sender waits for each grant while the receiver decrypts. On a busy machine ping round trips
 * carry scheduling delay, so delay-based windows shrank to that on loopback. Four messages
 * keep both ends busy; 1 MiB in front of a small reply is about 3 ms at loopback rates.
 */
export const TCP_WINDOW_FLOOR_BYTES = 1024 * 1024
/**
 * What each DATA frame costs of the window on top of its payload, so a window bounds the
 * number of frames too, not only the bytes (1-byte frames once cost ~100x their size).
 */
export const DATA_FRAME_CHARGE_BYTES = 64
/** Largest window a receiver grows a stream to. */
export const MAX_WINDOW_BYTES = 16 * 1024 * 1024
/** Longest reason text carried in RESET and CLOSE frames. */
export const MAX_REASON_BYTES = 256

export const ResetCode = { CANCEL: 0, REFUSED: 1 } as const

export const CloseCode = {
  NORMAL: 0,
  REJECTED: 1,
  NOT_TOPIC_MEMBER: 2,
  BAD_HELLO: 3,
  PROTOCOL_ERROR: 4,
  SHUTDOWN: 5,
  TIMEOUT: 6,
} as const
export type CloseCodeValue = (typeof CloseCode)[keyof typeof CloseCode]

export function writeHeader(
  target: Uint8Array,
  offset: number,
  type: number,
  id: number,
  length: number,
): void {
  target[offset] = type
  target[offset + 1] = id >>> 24
  target[offset + 2] = (id >>> 16) & 0xff
  target[offset + 3] = (id >>> 8) & 0xff
  target[offset + 4] = id & 0xff
  target[offset + 5] = length >>> 24
  target[offset + 6] = (length >>> 16) & 0xff
  target[offset + 7] = (length >>> 8) & 0xff
  target[offset + 8] = length & 0xff
}

export function readU32(source: Uint8Array, offset: number): number {
  return (
    ((source[offset]! << 24) >>> 0) +
    (source[offset + 1]! << 16) +
    (source[offset + 2]! << 8) +
    source[offset + 3]!
  )
}

/** A whole small frame (control frames). */
export function encodeFrame(type: number, id: number, payload?: Uint8Array): Uint8Array {
  const length = payload?.length ?? 0
  const out = new Uint8Array(MUX_HEADER_BYTES + length)
  writeHeader(out, 0, type, id, length)
  if (payload !== undefined) out.set(payload, MUX_HEADER_BYTES)
  return out
}

/** Payload of RESET and CLOSE: a code byte and a truncated UTF-8 reason. */
export function encodeCodeAndReason(code: number, reason: string): Uint8Array {
  const text = new TextEncoder().encode(reason).subarray(0, MAX_REASON_BYTES)
  const out = new Uint8Array(1 + text.length)
  out[0] = code
  out.set(text, 1)
  return out
}

export function decodeCodeAndReason(payload: Uint8Array): { code: number; reason: string } {
  const code = payload[0] ?? 0
  const text = payload.subarray(1, 1 + MAX_REASON_BYTES)
  // Shown to people and logs: strip control characters a hostile peer might send.
  const reason = new TextDecoder('utf-8', { fatal: false }).decode(text).replace(/\p{Cc}/gu, ' ')
  return { code, reason }
}

export function u32(value: number): Uint8Array {
  const out = new Uint8Array(4)
  new DataView(out.buffer).setUint32(0, value)
  return out
}
