import type { Socket } from 'node:net'
import { TransportError } from './errors'

/** secret-stream's message header: the body's length, 3 bytes little-endian. */
const HEADER_BYTES = 3
/** Size of the buffers small messages are read into (node's own reads are 64 KiB). */
const STAGING_BYTES = 64 * 1024
/** A staging buffer with less room than this is left to the messages read into it. */
const MIN_ROOM_BYTES = 4 * 1024
/** Messages at least this long are read straight into a buffer of their own. */
const DIRECT_MESSAGE_BYTES = 16 * 1024
/** Messages that may arrive before anybody listens (XX sends one or two small ones). */
const MAX_EARLY_BYTES = 64 * 1024

/** Sockets a {@link TcpMessageReader} reads: it caps their message lengths itself. */
const framedSockets = new WeakSet<object>()

export function isReadByMessageReader(raw: object): boolean {
  return framedSockets.has(raw)
}

/** The longest message the reader accepts: the handshake's first messages are short. */
export interface MessageCaps {
  /** How many handshake messages come first (XX: the initiator gets 1, the acceptor 2). */
  handshakeMessages: number
  handshakeBytes: number
  carrierBytes: number
}

/**
 * Reads a TCP carrier for secret-stream with node's `onread` (a buffer of our choosing per
 * read), so that a large encrypted message lands in one buffer of its own with no copy: a
 * read goes into the rest of that message's buffer and stops at its end. With node's own
 * reads every 64 KiB read was a fresh buffer, and secret-stream copied each 256 KiB message
 * together out of four of them into a fifth (peer-node's 1 GiB download: 330 ms of copying
 * and much of 711 ms of garbage collection in the downloading peer's main thread). Small
 * messages are read several at a time into a staging buffer, as before.
 *
 * Whole messages go on as the socket's `data` events (secret-stream's input, header and
 * all). Views of them live on downstream (secret-stream hands out views of the message it
 * decrypted in place), so a byte range is never read into twice: a staging buffer is only
 * filled further on, never from its start again. The length each header declares is capped
 * before anything is allocated for it ({@link MessageCaps}, issue 9.6).
 */
export class TcpMessageReader {
  readonly #caps: MessageCaps
  #socket: Socket | undefined
  /** Where small messages are read; `[0, #stagingStart)` may be in use downstream. */
  #staging: Uint8Array = Buffer.allocUnsafeSlow(STAGING_BYTES)
  #stagingStart = 0
  /** The large message being read (header included), or undefined while staging. */
  #message: Uint8Array | undefined
  /** Bytes read into the current buffer (staging: from its start; message: of the message). */
  #end = 0
  /** Where the next read must stop in the current buffer. */
  #limit = STAGING_BYTES
  /** Messages handed on so far (the first few are handshake messages). */
  #messages = 0
  /** Whole messages read before the socket had a `data` listener. */
  #early: Uint8Array[] = []
  #earlyBytes = 0

  constructor(caps: MessageCaps) {
    this.#caps = caps
  }

  /** The `onread` option of `net.connect` / `new net.Socket`. */
  readonly onread = {
    buffer: (): Uint8Array => this.#nextBuffer(),
    // true: node stops reading only on false (secret-stream pauses the socket itself).
    callback: (bytes: number): boolean => {
      this.#onRead(bytes)
      return true
    },
  }

  /** The socket this reader reads (set once, right after it was created). */
  attach(socket: Socket): void {
    this.#socket = socket
    framedSockets.add(socket)
    socket.on('newListener', (event: string | symbol) => {
      // Emitted before the listener is added: hand the early messages on once it is.
      if (event === 'data' && this.#early.length > 0) queueMicrotask(() => this.#flushEarly())
    })
  }

  #nextBuffer(): Uint8Array {
    return (this.#message ?? this.#staging).subarray(this.#end, this.#limit)
  }

  #onRead(bytes: number): void {
    this.#end += bytes
    const message = this.#message
    if (message !== undefined) {
      if (this.#end < message.length) return
      this.#message = undefined
      this.#end = this.#stagingStart
      // Only the next header: a large message behind it then goes straight to its own buffer.
      this.#limit = this.#end + HEADER_BYTES
      this.#messages++
      this.#deliver(message)
      return
    }
    const staging = this.#staging
    let at = this.#stagingStart
    while (this.#end - at >= HEADER_BYTES) {
      const length = readLength(staging, at)
      if (!this.#allowed(length)) return
      if (at + HEADER_BYTES + length > this.#end) break
      at += HEADER_BYTES + length
      this.#messages++
    }
    const whole = staging.subarray(this.#stagingStart, at)
    this.#stagingStart = at
    if (this.#end - at >= HEADER_BYTES) {
      const length = readLength(staging, at)
      if (length >= DIRECT_MESSAGE_BYTES) this.#startMessage(length)
    }
    if (this.#message === undefined) this.#keepStaging()
    if (whole.length > 0) this.#deliver(whole)
  }

  /** Moves the start of a large message out of staging into a buffer of its own. */
  #startMessage(length: number): void {
    const message = Buffer.allocUnsafeSlow(HEADER_BYTES + length)
    const read = this.#staging.subarray(this.#stagingStart, this.#end)
    message.set(read)
    // Those staging bytes were never handed on: the next reads may use them again.
    this.#end = read.length
    this.#limit = message.length
    this.#message = message
  }

  /** Reads on into staging, into a fresh buffer when this one has little room left. */
  #keepStaging(): void {
    const left = this.#staging.subarray(this.#stagingStart, this.#end)
    if (this.#staging.length - this.#end < MIN_ROOM_BYTES) {
      const fresh = Buffer.allocUnsafeSlow(STAGING_BYTES)
      fresh.set(left)
      this.#staging = fresh
      this.#stagingStart = 0
      this.#end = left.length
    }
    this.#limit = this.#staging.length
  }

  #allowed(length: number): boolean {
    const handshake = this.#messages < this.#caps.handshakeMessages
    const cap = handshake ? this.#caps.handshakeBytes : this.#caps.carrierBytes
    if (length <= cap) return true
    // No further read: destroying stops the socket right here, before any allocation.
    this.#limit = this.#end + 1
    this.#socket?.destroy(
      new TransportError('PROTOCOL_ERROR', `carrier message of ${length} bytes (cap ${cap})`),
    )
    return false
  }

  #deliver(chunk: Uint8Array): void {
    const socket = this.#socket
    if (socket === undefined || socket.destroyed) return
    if (this.#early.length === 0 && socket.listenerCount('data') > 0) {
      socket.emit('data', chunk)
      return
    }
    this.#early.push(chunk)
    this.#earlyBytes += chunk.length
    if (this.#earlyBytes > MAX_EARLY_BYTES) {
      socket.destroy(
        new TransportError('PROTOCOL_ERROR', `${this.#earlyBytes} bytes before the handshake`),
      )
    }
  }

  #flushEarly(): void {
    const socket = this.#socket
    while (this.#early.length > 0 && socket !== undefined && !socket.destroyed) {
      socket.emit('data', this.#early.shift())
    }
    this.#earlyBytes = 0
  }
}

function readLength(bytes: Uint8Array, at: number): number {
  return bytes[at]! + (bytes[at + 1]! << 8) + (bytes[at + 2]! << 16)
}
