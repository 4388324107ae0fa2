import type NoiseSecretStream from '@hyperswarm/secret-stream'
import { Fifo } from './fifo'
import { encodeFrame, FrameType, MUX_HEADER_BYTES, writeHeader } from './mux-frame'
import type { MuxStream } from './mux-stream'
import type { SendGate } from './udx-send-gate'

/** Target size of one encrypted message; larger ones cut per-message cost, smaller ones interleave finer. */
export const MESSAGE_BYTES = 256 * 1024
/** Most bytes one stream gets per turn while other streams also wait to send. */
const QUANTUM_BYTES = 16 * 1024
/** Smallest data message written while a send gate limits them (per-message cost). */
const MIN_GATED_MESSAGE_BYTES = 16 * 1024
/**
 * Largest message on a gated carrier (UDX). Where a stream's window stays at its first 256 KiB
 * (loopback, LAN: see `mux-ping.ts`), a 256 KiB message held a whole window, and the receiver,
 * which can decrypt a message only once all of it arrived, granted nothing until then: one
 * window per round trip, stop and wait. peer-node's downloads bench, 0.5 GiB over UDX on
 * loopback, interleaved: 68 / 57 MB/s before, 79 / 77 MB/s with 64 KiB messages.
 */
const MAX_GATED_MESSAGE_BYTES = 64 * 1024
/**
 * Most bytes of control frames (WINDOW, RESET, OPEN...) queued while the remote does not read.
 * Legitimate use stays far below: one OPEN and a few replies per stream.
 */
export const MAX_CONTROL_QUEUE_BYTES = 256 * 1024

interface DataPiece {
  id: number
  length: number
  parts: Uint8Array[]
}

type Piece = Uint8Array | DataPiece

/**
 * The sending half of the multiplexer: a fair scheduler. Control frames go first, then
 * stream data in turns of at most 16 KiB per stream, packed into messages of up to
 * {@link MESSAGE_BYTES}, and only while the carrier takes more (so little sits below us and a
 * small reply never waits behind a bulk transfer).
 */
export class MuxSender {
  readonly #noise: NoiseSecretStream
  readonly #gate: SendGate | undefined
  readonly #ready = new Set<MuxStream>()
  readonly #control = new Fifo<Uint8Array>()
  #controlBytes = 0
  /** The reply to the latest PING only: a ping flood cannot queue replies (issue 9.1). */
  #pong: Uint8Array | undefined
  /** When the carrier last refused a write and has not drained since (0: not blocked). */
  #blockedSince = 0
  #blocked = false
  #flushQueued = false
  #stopped = false

  /** `gate`, when given, bounds what sits unsent below us (UDX's send queue). */
  constructor(noise: NoiseSecretStream, gate?: (wake: () => void) => SendGate) {
    this.#noise = noise
    this.#gate = gate?.(() => this.#scheduleFlush())
  }

  /** When the carrier last refused a write and has not drained since (0: not blocked). */
  get blockedSince(): number {
    return this.#blockedSince
  }

  /** The carrier takes more again. */
  drained(): void {
    this.#blocked = false
    this.#blockedSince = 0
    this.#flush()
  }

  markReady(stream: MuxStream): void {
    this.#ready.add(stream)
    this.#scheduleFlush()
  }

  forget(stream: MuxStream): void {
    this.#ready.delete(stream)
  }

  /** Queues a control frame; false when the queue passed its cap (the remote does not read). */
  pushControl(frame: Uint8Array): boolean {
    this.#controlBytes += frame.length
    if (this.#controlBytes > MAX_CONTROL_QUEUE_BYTES) return false
    this.#control.push(frame)
    this.#scheduleFlush()
    return true
  }

  /** Sends the last frame (CLOSE) whatever the cap and the carrier's backpressure. */
  pushLast(frame: Uint8Array): void {
    this.#controlBytes += frame.length
    this.#control.push(frame)
    this.#blocked = false
    this.#flush()
  }

  replyPong(payload: Uint8Array): void {
    this.#pong = encodeFrame(FrameType.PONG, 0, payload)
    this.#scheduleFlush()
  }

  /** Streams that failed take nothing more. */
  clearReady(): void {
    this.#ready.clear()
  }

  /** Sends nothing more. */
  stop(): void {
    this.#stopped = true
    this.#gate?.stop()
    this.#ready.clear()
    this.#control.clear()
  }

  /**
   * On TCP, flushes once the event loop has run every callback that is ready (`setImmediate`),
   * not after each one (a microtask): a file system or socket callback per small file used to
   * make a message and a socket write of its own. Peer-node's downloads bench, 10,000 files of
   * 4 KiB over the TCP carrier: 501 files/s with a flush per callback, 640 with one per loop
   * turn. A gated carrier (UDX) keeps the microtask: its gate paces the sender on its own
   * (re-checked every 2 ms), and the emulated-link figures it was tuned on were measured so
   * (transport's links test gave 0.82-1.41 MB/s for the same code at load 3-6: too noisy to
   * show a change either way).
   */
  #scheduleFlush(): void {
    if (this.#flushQueued || this.#blocked || this.#stopped) return
    this.#flushQueued = true
    const flush = () => {
      this.#flushQueued = false
      this.#flush()
    }
    if (this.#gate === undefined) setImmediate(flush)
    else queueMicrotask(flush)
  }

  #flush(): void {
    while (!this.#blocked && !this.#stopped) {
      const pieces: Piece[] = []
      let size = 0
      if (this.#pong !== undefined) {
        pieces.push(this.#pong)
        size += this.#pong.length
        this.#pong = undefined
      }
      for (let frame = this.#control.peek(); frame !== undefined; frame = this.#control.peek()) {
        if (size > 0 && size + frame.length > MESSAGE_BYTES) break
        pieces.push(frame)
        size += frame.length
        this.#controlBytes -= frame.length
        this.#control.shift()
      }
      const room = this.#gate === undefined ? MESSAGE_BYTES : this.#gate.room()
      if (room > 0) {
        const limit =
          this.#gate === undefined
            ? MESSAGE_BYTES
            : Math.min(MAX_GATED_MESSAGE_BYTES, Math.max(MIN_GATED_MESSAGE_BYTES, room))
        size = this.#takeData(pieces, size, limit)
      }
      if (size === 0) return
      const message = this.#noise.alloc(size)
      let at = 0
      for (const piece of pieces) {
        if (piece instanceof Uint8Array) {
          message.set(piece, at)
          at += piece.length
          continue
        }
        writeHeader(message, at, FrameType.DATA, piece.id, piece.length)
        at += MUX_HEADER_BYTES
        for (const part of piece.parts) {
          message.set(part, at)
          at += part.length
        }
      }
      this.#gate?.written(size)
      if (!this.#noise.write(message)) {
        this.#blocked = true
        this.#blockedSince = performance.now()
      }
    }
  }

  /** Round-robin over streams with something to send; returns the message size so far. */
  #takeData(pieces: Piece[], size: number, limit: number): number {
    while (this.#ready.size > 0 && size + MUX_HEADER_BYTES < limit) {
      const stream = this.#ready.values().next().value as MuxStream
      this.#ready.delete(stream)
      const room = limit - size - MUX_HEADER_BYTES
      // Alone, a stream may fill the message; with others waiting, it gets one quantum per turn.
      const n = Math.min(stream.sendable, room, this.#ready.size > 0 ? QUANTUM_BYTES : room)
      if (n > 0) {
        pieces.push({ id: stream.id, length: n, parts: stream.take(n) })
        size += MUX_HEADER_BYTES + n
      }
      if (stream.wantsEnd && size + MUX_HEADER_BYTES <= limit) {
        pieces.push(encodeFrame(FrameType.END, stream.id))
        size += MUX_HEADER_BYTES
        stream.endSent()
      }
      if (stream.sendable > 0 || stream.wantsEnd) this.#ready.add(stream)
    }
    return size
  }
}
