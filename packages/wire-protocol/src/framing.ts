import { WireError } from './errors'
import { MAX_CONTROL_FRAME_BYTES } from './limits'

/** Bytes in a frame header: the payload length as an unsigned 32-bit big-endian integer. */
export const FRAME_HEADER_BYTES = 4

export interface FrameOptions {
  /** Largest payload accepted, in bytes. Defaults to {@link MAX_CONTROL_FRAME_BYTES} (1 MiB). */
  maxFrameBytes?: number
}

/** Prefixes `payload` with its length. Throws `FRAME_TOO_LARGE` above the limit. */
export function encodeFrame(payload: Uint8Array, options: FrameOptions = {}): Uint8Array {
  const max = options.maxFrameBytes ?? MAX_CONTROL_FRAME_BYTES
  if (payload.length > max) {
    throw new WireError('FRAME_TOO_LARGE', `frame of ${payload.length} bytes exceeds ${max}`)
  }
  const out = new Uint8Array(FRAME_HEADER_BYTES + payload.length)
  new DataView(out.buffer).setUint32(0, payload.length)
  out.set(payload, FRAME_HEADER_BYTES)
  return out
}

/**
 * Splits a byte stream into frames, and hands out raw bytes between them (the body of a
 * `read` follows its header frame unframed). Pure and synchronous: feed it with `push`.
 * A header that announces more than the limit throws `FRAME_TOO_LARGE` at once, before any
 * of the payload is buffered.
 */
export class FrameDecoder {
  readonly #max: number
  readonly #chunks: Uint8Array[] = []
  #buffered = 0

  constructor(options: FrameOptions = {}) {
    this.#max = options.maxFrameBytes ?? MAX_CONTROL_FRAME_BYTES
  }

  /** Bytes received but not yet handed out. */
  get bufferedBytes(): number {
    return this.#buffered
  }

  push(chunk: Uint8Array): void {
    if (chunk.length === 0) return
    this.#chunks.push(chunk)
    this.#buffered += chunk.length
  }

  /** The next whole frame's payload, or `undefined` until enough bytes have arrived. */
  nextFrame(): Uint8Array | undefined {
    if (this.#buffered < FRAME_HEADER_BYTES) return undefined
    const header = this.#peek(FRAME_HEADER_BYTES)
    const length = new DataView(header.buffer, header.byteOffset, FRAME_HEADER_BYTES).getUint32(0)
    if (length > this.#max) {
      throw new WireError(
        'FRAME_TOO_LARGE',
        `peer announced a frame of ${length} bytes; limit is ${this.#max}`,
      )
    }
    if (this.#buffered < FRAME_HEADER_BYTES + length) return undefined
    this.#take(FRAME_HEADER_BYTES)
    return this.#take(length)
  }

  /** Up to `max` buffered raw bytes (no framing), or `undefined` when none are buffered. */
  takeRaw(max: number): Uint8Array | undefined {
    if (this.#buffered === 0 || max <= 0) return undefined
    const first = this.#chunks[0]!
    if (first.length <= max) {
      this.#chunks.shift()
      this.#buffered -= first.length
      return first
    }
    return this.#take(max)
  }

  #peek(n: number): Uint8Array {
    const first = this.#chunks[0]!
    if (first.length >= n) return first.subarray(0, n)
    const out = new Uint8Array(n)
    let at = 0
    for (const c of this.#chunks) {
      const part = c.subarray(0, n - at)
      out.set(part, at)
      at += part.length
      if (at === n) break
    }
    return out
  }

  #take(n: number): Uint8Array {
    this.#buffered -= n
    const first = this.#chunks[0]
    if (first !== undefined && first.length >= n) {
      if (first.length === n) this.#chunks.shift()
      else this.#chunks[0] = first.subarray(n)
      return first.subarray(0, n)
    }
    const out = new Uint8Array(n)
    let at = 0
    while (at < n) {
      const c = this.#chunks[0]!
      const want = n - at
      if (c.length <= want) {
        out.set(c, at)
        at += c.length
        this.#chunks.shift()
      } else {
        out.set(c.subarray(0, want), at)
        this.#chunks[0] = c.subarray(want)
        at = n
      }
    }
    return out
  }
}

/**
 * Reads frames from a byte stream. Ends when the source ends on a frame boundary; a stream
 * that ends inside a frame throws `MALFORMED`.
 */
export async function* readFrames(
  source: AsyncIterable<Uint8Array>,
  options: FrameOptions = {},
): AsyncGenerator<Uint8Array> {
  const decoder = new FrameDecoder(options)
  for await (const chunk of source) {
    decoder.push(chunk)
    for (let frame = decoder.nextFrame(); frame !== undefined; frame = decoder.nextFrame())
      yield frame
  }
  if (decoder.bufferedBytes > 0) {
    throw new WireError(
      'MALFORMED',
      `stream ended inside a frame (${decoder.bufferedBytes} bytes left)`,
    )
  }
}
