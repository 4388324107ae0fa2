import type { TransportStream } from '@harddrive-party/transport'
import { FrameDecoder, isHdpError } from '@harddrive-party/wire-protocol'
import { PeerNodeError } from '../errors'

/**
 * Reads a peer's answer from a stream: frames, then (after a read header) raw bytes, from one
 * decoder so bytes that arrived with the header are not lost. Failures become typed errors:
 * a broken stream is `INTERRUPTED`, bytes that are not a valid frame `BAD_RESPONSE`, and an
 * abort keeps the signal's reason.
 */
export class ResponseReader {
  readonly #stream: TransportStream
  readonly #decoder = new FrameDecoder()
  readonly #source: AsyncIterator<Uint8Array>
  readonly #signal: AbortSignal | undefined
  #ended = false

  constructor(stream: TransportStream, signal?: AbortSignal) {
    this.#stream = stream
    this.#source = stream[Symbol.asyncIterator]()
    this.#signal = signal
  }

  /** The next frame's payload, or `undefined` when the stream ended cleanly between frames. */
  async nextFrame(): Promise<Uint8Array | undefined> {
    for (;;) {
      const frame = this.#decode()
      if (frame !== undefined) return frame
      if (!(await this.#pull())) {
        if (this.#decoder.bufferedBytes > 0) {
          throw new PeerNodeError('INTERRUPTED', 'the peer ended the stream inside a frame')
        }
        return undefined
      }
    }
  }

  /** Exactly `length` raw bytes as they arrive; `INTERRUPTED` (with `received`) if they stop short. */
  async *bytes(length: number): AsyncGenerator<Uint8Array> {
    let received = 0
    while (received < length) {
      const chunk = this.#decoder.takeRaw(length - received)
      if (chunk !== undefined) {
        received += chunk.length
        yield chunk
        continue
      }
      if (!(await this.#pull())) {
        throw Object.assign(
          new PeerNodeError(
            'INTERRUPTED',
            `the transfer stopped after ${received} of ${length} bytes`,
          ),
          { received },
        )
      }
    }
  }

  /** Waits for the peer to end the stream after its answer; anything more is `BAD_RESPONSE`. */
  async expectEnd(): Promise<void> {
    while (this.#decoder.bufferedBytes === 0 && (await this.#pull())) {}
    if (this.#decoder.bufferedBytes > 0) {
      throw new PeerNodeError('BAD_RESPONSE', 'the peer sent more than its answer')
    }
  }

  #decode(): Uint8Array | undefined {
    try {
      return this.#decoder.nextFrame()
    } catch (err) {
      throw new PeerNodeError('BAD_RESPONSE', `the peer sent a bad frame: ${String(err)}`, {
        cause: err,
      })
    }
  }

  /** Reads one more chunk into the decoder; false at the end of the stream. */
  async #pull(): Promise<boolean> {
    if (this.#ended) return false
    let next: IteratorResult<Uint8Array>
    try {
      next = await this.#source.next()
    } catch (err) {
      this.#signal?.throwIfAborted()
      if (isHdpError(err, 'PeerNodeError')) throw err
      throw new PeerNodeError('INTERRUPTED', `the answer broke off: ${String(err)}`, {
        cause: err,
      })
    }
    if (next.done === true) {
      this.#ended = true
      return false
    }
    this.#decoder.push(next.value)
    return true
  }

  /** Aborts the stream both ways (the peer stops sending). */
  abort(): void {
    this.#stream.abort()
  }
}

/**
 * A frame of a peer's answer through `decoder`: no frame (the stream ended) is `INTERRUPTED`
 * with `ended` as its message, an invalid one `BAD_RESPONSE`.
 */
export function decodeAnswerFrame<T>(
  decoder: (b: Uint8Array) => T,
  frame: Uint8Array | undefined,
  ended = 'the peer ended the stream without an answer',
): T {
  if (frame === undefined) throw new PeerNodeError('INTERRUPTED', ended)
  try {
    return decoder(frame)
  } catch (err) {
    if (!isHdpError(err)) throw err
    throw new PeerNodeError('BAD_RESPONSE', `the peer's answer is invalid: ${err.message}`, {
      cause: err,
    })
  }
}
