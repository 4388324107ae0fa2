import type { TransportStream } from '@harddrive-party/transport'
import {
  encodeFrame,
  FrameDecoder,
  isHdpError,
  type PeerErrorCode,
  type PeerMessage,
  type WatchResponse,
} from '@harddrive-party/wire-protocol'
import { encodeCbor } from '@harddrive-party/wire-protocol/internal'
import { PeerNodeError } from '../errors'

/**
 * A request frame is small: path (4 KiB) + cursor (8 KiB) + search (256 B) + field names; a
 * `read-many` has at most 32 KiB of paths and 64 files' fields.
 */
export const MAX_REQUEST_FRAME_BYTES = 48 * 1024

/**
 * The serving side of one request stream: reads the request frame (within a time limit), then
 * writes answer frames and bytes. Every write is bounded by the stall timeout: a peer that
 * stops reading gets its stream aborted instead of holding a slot for ever.
 */
export class AnswerStream {
  readonly stream: TransportStream
  readonly #stallTimeoutMs: number
  readonly #signal: AbortSignal
  #reader: AsyncIterator<Uint8Array> | undefined
  #decoder: FrameDecoder | undefined
  /** Set once a read header is sent: from then on only file bytes may follow, never a frame. */
  sendingBytes = false

  readonly #onShutdown = () => this.stream.abort(this.#signal.reason)

  constructor(stream: TransportStream, options: { stallTimeoutMs: number; signal: AbortSignal }) {
    this.stream = stream
    this.#stallTimeoutMs = options.stallTimeoutMs
    this.#signal = options.signal
    this.#signal.addEventListener('abort', this.#onShutdown, { once: true })
  }

  /** Stops following the server's shutdown (call once the request is over). */
  dispose(): void {
    this.#signal.removeEventListener('abort', this.#onShutdown)
  }

  /** The request frame; the stream is aborted when none arrives within `timeoutMs`. */
  async readRequest(timeoutMs: number): Promise<Uint8Array> {
    const decoder = new FrameDecoder({ maxFrameBytes: MAX_REQUEST_FRAME_BYTES })
    this.#decoder = decoder
    const timer = setTimeout(() => {
      this.stream.abort(new PeerNodeError('BAD_REQUEST', `no request within ${timeoutMs} ms`))
    }, timeoutMs)
    this.#reader = this.stream[Symbol.asyncIterator]()
    try {
      for (;;) {
        const frame = decoder.nextFrame()
        if (frame !== undefined) return frame
        const next = await this.#reader.next()
        if (next.done === true) {
          throw new PeerNodeError('BAD_REQUEST', 'the stream ended before a whole request')
        }
        decoder.push(next.value)
      }
    } finally {
      clearTimeout(timer)
    }
  }

  /** Bytes that arrived after the request frame (a relay stream's first inner bytes). */
  takeBuffered(): Uint8Array[] {
    const out: Uint8Array[] = []
    const decoder = this.#decoder
    for (let raw = decoder?.takeRaw(Infinity); raw; raw = decoder?.takeRaw(Infinity)) out.push(raw)
    return out
  }

  /** Stops reading (the requester's further bytes are refused). */
  stopReading(): void {
    void this.#reader?.return?.()
  }

  /** Resolves when the requester ends its side; bytes it sends meanwhile are dropped (counted). */
  async requesterDone(maxBytes = 64 * 1024): Promise<void> {
    let bytes = 0
    const reader = this.#reader ?? this.stream[Symbol.asyncIterator]()
    for (let next = await reader.next(); next.done !== true; next = await reader.next()) {
      bytes += next.value.length
      if (bytes > maxBytes)
        throw new PeerNodeError('BAD_REQUEST', 'unexpected bytes after a request')
    }
  }

  async writeMessage(message: PeerMessage | WatchResponse): Promise<void> {
    await this.writeBytes(encodeFrame(encodeCbor(message)))
  }

  /**
   * Writes `chunk`; aborts the stream when the requester reads nothing for the stall timeout.
   * `untilCopied`: resolves only once the transport holds no reference to `chunk` (it may be
   * filled again).
   */
  async writeBytes(chunk: Uint8Array, options: { untilCopied?: boolean } = {}): Promise<void> {
    await this.#unlessStalled(() => this.stream.write(chunk, options))
  }

  /**
   * Writes `parts` in order, under one stall timer: the transport takes a frame's bytes from
   * several queued writes, so small pieces need no copy into one buffer first.
   */
  async writeParts(parts: readonly Uint8Array[]): Promise<void> {
    await this.#unlessStalled(async () => {
      for (const part of parts) await this.stream.write(part)
    })
  }

  /** Answers with an error frame and ends the stream; never throws (the stream may be gone). */
  async fail(code: PeerErrorCode, message: string): Promise<void> {
    if (this.sendingBytes) {
      // The requester sees a transfer cut short, and resumes from the byte it has.
      this.stream.abort()
      return
    }
    try {
      await this.writeMessage({ type: 'error', code, message: message.slice(0, 1024) })
      await this.end()
    } catch {
      this.stream.abort()
    }
  }

  async end(): Promise<void> {
    await this.#unlessStalled(() => this.stream.end())
  }

  /**
   * Runs a write that waits while the requester reads nothing; after the stall timeout the
   * stream is aborted, which fails the write. A plain timer per write (cleared at once), not
   * `AbortSignal.timeout`, whose timers outlive the write: a 1 GiB file is 16,384 writes.
   */
  async #unlessStalled(write: () => Promise<void>): Promise<void> {
    this.#signal.throwIfAborted()
    const timer = setTimeout(() => {
      this.stream.abort(
        new PeerNodeError(
          'INTERRUPTED',
          `the requester read nothing for ${this.#stallTimeoutMs} ms`,
        ),
      )
    }, this.#stallTimeoutMs)
    try {
      await write()
    } finally {
      clearTimeout(timer)
    }
  }
}

/**
 * The wire error code and text a failure is answered with. Errors about the request (index-store
 * and wire-protocol codes) are told to the requester; anything else is `INTERNAL` and only
 * logged here (H11: details stay in the server's log).
 */
export function answerFor(err: unknown): { code: PeerErrorCode; message: string } | undefined {
  if (!isHdpError(err)) return undefined
  const code = MAPPED[err.code]
  if (code === undefined) return undefined
  return { code, message: err.code === code ? stripCode(err.message) : err.message }
}

const MAPPED: Record<string, PeerErrorCode> = {
  // index-store
  NOT_FOUND: 'NOT_FOUND',
  BAD_PATH: 'BAD_REQUEST',
  BAD_QUERY: 'BAD_REQUEST',
  BAD_CURSOR: 'BAD_REQUEST',
  NOT_A_FILE: 'BAD_REQUEST',
  OUTSIDE_SHARE: 'FORBIDDEN',
  UNREADABLE: 'FORBIDDEN',
  // wire-protocol decoders
  MALFORMED: 'BAD_REQUEST',
  BAD_FIELD: 'BAD_REQUEST',
  UNKNOWN_MESSAGE: 'BAD_REQUEST',
  FRAME_TOO_LARGE: 'TOO_LARGE',
  UNSUPPORTED_VERSION: 'UNSUPPORTED_VERSION',
  // ours
  BAD_REQUEST: 'BAD_REQUEST',
  BUSY: 'BUSY',
  CHANGED: 'CHANGED',
}

function stripCode(message: string): string {
  const at = message.indexOf(': ')
  return at === -1 ? message : message.slice(at + 2)
}
