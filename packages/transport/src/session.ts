import type NoiseSecretStream from '@hyperswarm/secret-stream'
import { TransportError, type TransportErrorCode } from './errors'
import { Fifo } from './fifo'
import {
  CloseCode,
  type CloseCodeValue,
  decodeCodeAndReason,
  encodeCodeAndReason,
  encodeFrame,
  FrameType,
  MUX_HEADER_BYTES,
  ResetCode,
  readU32,
  writeHeader,
} from './mux-frame'
import { MuxStream, type StreamHost } from './mux-stream'
import { RttEstimator } from './rtt'
import type { ComponentLogger } from './types'

/** Streams one side may have open at once on a connection (both sides enforce it). */
export const MAX_STREAMS_PER_SIDE = 256
/** Target size of one encrypted message; larger ones cut per-message cost, smaller ones interleave finer. */
export const MESSAGE_BYTES = 256 * 1024
/** Most bytes one stream gets per turn while other streams also wait to send. */
const QUANTUM_BYTES = 16 * 1024
/** How long a closing connection waits for the remote to hang up before cutting it. */
const CLOSE_GRACE_MS = 2000
/** Ping interval while streams are open: the round trips measure how much is queued. */
const BUSY_PING_MS = 20
/**
 * Most bytes of control frames (WINDOW, RESET, OPEN...) queued while the remote does not read.
 * Legitimate use stays far below: one OPEN and a few replies per stream.
 */
export const MAX_CONTROL_QUEUE_BYTES = 256 * 1024

export interface SessionHooks {
  /**
   * A HELLO frame arrived (payload as sent). Called inside the frame loop: a connection that
   * accepts it synchronously calls {@link Session.setOpen} before the next frame is read, so
   * streams the remote opens in the same message as its hello are not refused (issue 9.4).
   */
  onHello(payload: Uint8Array): void
  /** The remote opened a stream. */
  onStream(stream: MuxStream): void
  /** The session ended; called once, with the reason. */
  onClose(error: Error): void
}

export interface SessionOptions {
  initiator: boolean
  /**
   * Whether stream windows must follow the queueing delay: true where the carrier buffers a
   * lot below us (TCP: megabytes of socket buffers that every stream waits behind).
   */
  windowsFollowDelay: boolean
  keepAliveMs: number
  idleTimeoutMs: number
  log: ComponentLogger
  hooks: SessionHooks
}

interface DataPiece {
  id: number
  length: number
  parts: Uint8Array[]
}

type Piece = Uint8Array | DataPiece

const CLOSE_ERRORS: Record<number, [TransportErrorCode, string]> = {
  [CloseCode.NORMAL]: ['CLOSED', 'the remote closed the connection'],
  [CloseCode.REJECTED]: ['REJECTED', 'the remote refused our key'],
  [CloseCode.NOT_TOPIC_MEMBER]: ['NOT_TOPIC_MEMBER', 'the remote did not accept our topic proof'],
  [CloseCode.BAD_HELLO]: ['BAD_HELLO', 'the remote could not use our hello'],
  [CloseCode.PROTOCOL_ERROR]: ['PROTOCOL_ERROR', 'the remote saw a protocol error from us'],
  [CloseCode.SHUTDOWN]: ['CLOSED', 'the remote is shutting down'],
  [CloseCode.TIMEOUT]: ['TIMEOUT', 'the remote timed us out'],
}

/**
 * The stream multiplexer of one connection, over one Noise secret stream (UDX or TCP).
 * Sending is a fair scheduler: control frames first, then stream data in turns of at most
 * 16 KiB per stream, packed into messages of about 64 KiB, and only while the carrier takes
 * more (so little sits below us and a small reply never waits behind a bulk transfer).
 * Receiving routes each frame to its stream and enforces the windows we granted.
 */
export class Session implements StreamHost {
  readonly noise: NoiseSecretStream
  readonly #options: SessionOptions
  readonly #log: ComponentLogger
  readonly #streams = new Map<number, MuxStream>()
  readonly #ready = new Set<MuxStream>()
  readonly #control = new Fifo<Uint8Array>()
  #controlBytes = 0
  /** The reply to the latest PING only: a ping flood cannot queue replies (issue 9.1). */
  #pong: Uint8Array | undefined
  #helloSeen = false
  /** When the carrier last refused a write and has not drained since (0: not blocked). */
  #blockedSince = 0
  #nextLocalId: number
  #highestRemoteId = 0
  #remoteOpen = 0
  #localOpen = 0
  readonly #localOpenWaiters = new Fifo<() => void>()
  #open = false
  #closed = false
  #closing = false
  #blocked = false
  #flushQueued = false
  #closeError: Error | undefined
  #timer: NodeJS.Timeout
  #graceTimer: NodeJS.Timeout | undefined
  #lastReceivedAt = performance.now()
  #lastPingAt = 0
  #ping: { nonce: number; sentAt: number } | undefined
  #pingCounter = 0
  readonly #rtt = new RttEstimator()
  #busyPing: NodeJS.Timeout | undefined

  constructor(noise: NoiseSecretStream, options: SessionOptions) {
    this.noise = noise
    this.#options = options
    this.#log = options.log
    this.#nextLocalId = options.initiator ? 1 : 2
    noise.on('data', (message: Uint8Array) => this.#onMessage(message))
    noise.on('drain', () => {
      this.#blocked = false
      this.#blockedSince = 0
      this.#flush()
    })
    noise.on('error', (err: Error) => {
      if (this.#closeError === undefined) this.#closeError = carrierError(err)
    })
    noise.on('end', () => this.destroy(new TransportError('CLOSED', 'the remote hung up')))
    noise.on('close', () =>
      this.destroy(this.#closeError ?? new TransportError('CLOSED', 'the carrier closed')),
    )
    const tick = Math.max(50, Math.min(options.keepAliveMs, options.idleTimeoutMs / 4))
    this.#timer = setInterval(() => this.#tick(), tick)
  }

  get rttMs(): number {
    return this.#rtt.smoothed
  }

  get rttSamples(): number {
    return this.#rtt.samples
  }

  get queueDelayMs(): number {
    return this.#options.windowsFollowDelay ? this.#rtt.queueDelayMs : 0
  }

  get closed(): boolean {
    return this.#closed
  }

  get openStreams(): number {
    return this.#streams.size
  }

  /** Lets stream frames through; called once both hellos are verified. */
  setOpen(): void {
    this.#open = true
    this.sendPing()
  }

  sendHello(payload: Uint8Array): void {
    this.sendControl(encodeFrame(FrameType.HELLO, 0, payload))
  }

  sendPing(): void {
    this.#lastPingAt = performance.now()
    if (this.#ping !== undefined) return // one in flight at a time keeps the sample honest
    const nonce = ++this.#pingCounter
    this.#ping = { nonce, sentAt: this.#lastPingAt }
    this.sendControl(encodeFrame(FrameType.PING, 0, pingPayload(nonce)))
  }

  /** Opens a stream, waiting while this side has the maximum open. */
  async openStream(signal?: AbortSignal): Promise<MuxStream> {
    while (this.#localOpen >= MAX_STREAMS_PER_SIDE && !this.#closed && !this.#closing) {
      signal?.throwIfAborted()
      await new Promise<void>((resolve, reject) => {
        let aborted = false
        const onAbort = () => {
          // Stays queued (O(1) queue, no search); when woken, it passes the slot on.
          aborted = true
          reject(signal!.reason)
        }
        const wake = () => {
          signal?.removeEventListener('abort', onAbort)
          if (aborted) this.#localOpenWaiters.shift()?.()
          else resolve()
        }
        signal?.addEventListener('abort', onAbort, { once: true })
        this.#localOpenWaiters.push(wake)
      })
    }
    signal?.throwIfAborted()
    if (this.#closed || this.#closing) {
      throw this.#closeError ?? new TransportError('CLOSED', 'connection closed')
    }
    const id = this.#nextLocalId
    this.#nextLocalId += 2
    const stream = new MuxStream(id, this)
    this.#streams.set(id, stream)
    this.#localOpen++
    this.#startBusyPing()
    this.sendControl(encodeFrame(FrameType.OPEN, id))
    return stream
  }

  /**
   * Sends CLOSE and hangs up gracefully; the remote sees the code. Resolves when the carrier
   * is gone (at most {@link CLOSE_GRACE_MS} later).
   */
  close(code: CloseCodeValue, reason: string, localError: Error): Promise<void> {
    if (this.#closed) return Promise.resolve()
    const done = new Promise<void>((resolve) => this.noise.once('close', () => resolve()))
    if (!this.#closing) {
      this.#closing = true
      this.#closeError = localError
      this.#failStreams(localError)
      for (const wake of this.#localOpenWaiters.drain()) wake()
      const frame = encodeFrame(FrameType.CLOSE, 0, encodeCodeAndReason(code, reason))
      this.#controlBytes += frame.length // may pass the cap: the last frame always goes
      this.#control.push(frame)
      this.#blocked = false // the last message goes out regardless of backpressure
      this.#flush()
      this.noise.end()
      this.#graceTimer = setTimeout(() => this.destroy(localError), CLOSE_GRACE_MS)
    }
    return done
  }

  /** Ends at once: streams fail with `error`, the carrier is destroyed. */
  destroy(error: Error): void {
    if (this.#closed) return
    this.#closed = true
    this.#closeError ??= error
    clearInterval(this.#timer)
    clearInterval(this.#busyPing)
    if (this.#graceTimer !== undefined) clearTimeout(this.#graceTimer)
    this.#failStreams(this.#closeError)
    this.#control.clear()
    for (const wake of this.#localOpenWaiters.drain()) wake()
    this.noise.destroy()
    this.#options.hooks.onClose(this.#closeError)
  }

  // ---- StreamHost ----

  markReady(stream: MuxStream): void {
    this.#ready.add(stream)
    this.#scheduleFlush()
  }

  sendControl(frame: Uint8Array): void {
    if (this.#closed || this.#closing) return
    this.#controlBytes += frame.length
    if (this.#controlBytes > MAX_CONTROL_QUEUE_BYTES) {
      // Replies pile up because the remote does not read them: close rather than buffer.
      this.destroy(
        new TransportError('PROTOCOL_ERROR', 'the remote does not read what it asks for'),
      )
      return
    }
    this.#control.push(frame)
    this.#scheduleFlush()
  }

  forget(stream: MuxStream): void {
    if (!this.#streams.delete(stream.id)) return
    this.#ready.delete(stream)
    if (isLocalId(stream.id, this.#options.initiator)) {
      this.#localOpen--
      this.#localOpenWaiters.shift()?.()
    } else {
      this.#remoteOpen--
    }
    if (this.#streams.size === 0) {
      clearInterval(this.#busyPing)
      this.#busyPing = undefined
    }
  }

  /** Pings often while streams are open, so window sizes follow the queueing delay. */
  #startBusyPing(): void {
    if (!this.#options.windowsFollowDelay || this.#busyPing !== undefined || this.#closed) return
    this.#busyPing = setInterval(() => {
      if (this.#ping === undefined) this.sendPing()
    }, BUSY_PING_MS)
  }

  // ---- sending ----

  #scheduleFlush(): void {
    if (this.#flushQueued || this.#blocked || this.#closed) return
    this.#flushQueued = true
    queueMicrotask(() => {
      this.#flushQueued = false
      this.#flush()
    })
  }

  #flush(): void {
    while (!this.#blocked && !this.#closed) {
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
      size = this.#takeData(pieces, size)
      if (size === 0) return
      const message = this.noise.alloc(size)
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
      if (!this.noise.write(message)) {
        this.#blocked = true
        this.#blockedSince = performance.now()
      }
    }
  }

  /** Round-robin over streams with something to send; returns the message size so far. */
  #takeData(pieces: Piece[], size: number): number {
    while (this.#ready.size > 0 && size + MUX_HEADER_BYTES < MESSAGE_BYTES) {
      const stream = this.#ready.values().next().value as MuxStream
      this.#ready.delete(stream)
      const room = MESSAGE_BYTES - size - MUX_HEADER_BYTES
      // Alone, a stream may fill the message; with others waiting, it gets one quantum per turn.
      const n = Math.min(stream.sendable, room, this.#ready.size > 0 ? QUANTUM_BYTES : room)
      if (n > 0) {
        pieces.push({ id: stream.id, length: n, parts: stream.take(n) })
        size += MUX_HEADER_BYTES + n
      }
      if (stream.wantsEnd && size + MUX_HEADER_BYTES <= MESSAGE_BYTES) {
        pieces.push(encodeFrame(FrameType.END, stream.id))
        size += MUX_HEADER_BYTES
        stream.endSent()
      }
      if (stream.sendable > 0 || stream.wantsEnd) this.#ready.add(stream)
    }
    return size
  }

  // ---- receiving ----

  #onMessage(message: Uint8Array): void {
    this.#lastReceivedAt = performance.now()
    let at = 0
    while (at < message.length && !this.#closed && !this.#closing) {
      if (message.length - at < MUX_HEADER_BYTES) {
        this.#protocolError('truncated frame header')
        return
      }
      const type = message[at]!
      const id = readU32(message, at + 1)
      const length = readU32(message, at + 5)
      const start = at + MUX_HEADER_BYTES
      if (
        !this.#open &&
        type !== FrameType.CLOSE &&
        (type !== FrameType.HELLO || this.#helloSeen)
      ) {
        // Before the hello nothing but the hello (or a refusal) is accepted (issue 9.1).
        this.#protocolError(`frame type ${type} before hello`)
        return
      }
      if (length > message.length - start) {
        this.#protocolError('frame longer than message')
        return
      }
      this.#onFrame(type, id, message.subarray(start, start + length))
      at = start + length
    }
  }

  #onFrame(type: number, id: number, payload: Uint8Array): void {
    switch (type) {
      case FrameType.HELLO:
        if (id !== 0 || this.#open || this.#helloSeen) {
          this.#protocolError('unexpected hello')
          return
        }
        this.#helloSeen = true
        this.#options.hooks.onHello(payload)
        return
      case FrameType.PING:
        if (payload.length !== 8) {
          this.#protocolError('bad ping')
          return
        }
        this.#pong = encodeFrame(FrameType.PONG, 0, payload)
        this.#scheduleFlush()
        return
      case FrameType.PONG:
        this.#onPong(payload)
        return
      case FrameType.CLOSE: {
        const { code, reason } = decodeCodeAndReason(payload)
        const [errorCode, text] = CLOSE_ERRORS[code] ?? ['CLOSED', 'the remote closed']
        this.destroy(new TransportError(errorCode, reason ? `${text}: ${reason}` : text))
        return
      }
    }
    if (!this.#open) {
      this.#protocolError(`frame type ${type} before hello`)
      return
    }
    if (type === FrameType.OPEN) {
      this.#onOpen(id)
      return
    }
    const streamFrame =
      (type >= FrameType.DATA && type <= FrameType.WINDOW) ||
      type === FrameType.BLOCKED ||
      type === FrameType.STOP
    if (!streamFrame) return // unknown: a newer minor version
    const stream = this.#streams.get(id)
    if (stream === undefined) {
      // Frames for a stream that already finished (we aborted it, or both ends closed) race
      // with that news; frames for a stream never opened are a violation.
      if (this.#isPastId(id)) return
      this.#protocolError(`frame for unknown stream ${id}`)
      return
    }
    switch (type) {
      case FrameType.DATA:
        if (payload.length === 0) {
          // An empty frame moves no bytes but costs a queue entry: never legitimate (issue 9.2).
          this.#protocolError(`empty data frame on stream ${id}`)
          return
        }
        if (!stream.receiveData(payload)) this.#protocolError(`stream ${id} overran its window`)
        return
      case FrameType.END:
        if (!stream.receiveEnd()) this.#protocolError(`stream ${id} ended twice`)
        return
      case FrameType.BLOCKED:
        stream.receiveBlocked()
        return
      case FrameType.STOP:
        stream.receiveStop()
        return
      case FrameType.WINDOW:
        if (payload.length !== 4 || !stream.receiveWindow(readU32(payload, 0))) {
          this.#protocolError(`bad window update on stream ${id}`)
        }
        return
      case FrameType.RESET: {
        const { code, reason } = decodeCodeAndReason(payload)
        stream.fail(
          code === ResetCode.REFUSED
            ? new TransportError('STREAM_REFUSED', `the remote refused stream ${id}: ${reason}`)
            : new TransportError('RESET', `the remote reset stream ${id}: ${reason}`),
        )
        return
      }
    }
  }

  #onOpen(id: number): void {
    if (id === 0 || isLocalId(id, this.#options.initiator) || id <= this.#highestRemoteId) {
      this.#protocolError(`bad stream id ${id} in open`)
      return
    }
    this.#highestRemoteId = id
    const stream = new MuxStream(id, this)
    this.#streams.set(id, stream)
    this.#remoteOpen++
    this.#startBusyPing()
    if (this.#remoteOpen > MAX_STREAMS_PER_SIDE) {
      stream.refuse(`more than ${MAX_STREAMS_PER_SIDE} open streams`)
      return
    }
    this.#options.hooks.onStream(stream)
  }

  #onPong(payload: Uint8Array): void {
    const ping = this.#ping
    if (ping === undefined || payload.length !== 8 || readU32(payload, 4) !== ping.nonce) return
    this.#ping = undefined
    const now = performance.now()
    this.#rtt.add(now - ping.sentAt, now)
  }

  #isPastId(id: number): boolean {
    return isLocalId(id, this.#options.initiator)
      ? id < this.#nextLocalId
      : id !== 0 && id <= this.#highestRemoteId
  }

  #protocolError(message: string): void {
    this.#log.error('protocol error: %s', message)
    void this.close(
      CloseCode.PROTOCOL_ERROR,
      message,
      new TransportError('PROTOCOL_ERROR', message),
    )
  }

  #failStreams(error: Error): void {
    for (const stream of [...this.#streams.values()]) stream.fail(error)
    this.#streams.clear()
    this.#ready.clear()
  }

  #tick(): void {
    const now = performance.now()
    if (now - this.#lastReceivedAt > this.#options.idleTimeoutMs) {
      // The remote is silent, probably gone: no point waiting for it to hang up.
      this.destroy(
        new TransportError('TIMEOUT', `nothing received for ${this.#options.idleTimeoutMs} ms`),
      )
      return
    }
    if (this.#blockedSince !== 0 && now - this.#blockedSince > this.#options.idleTimeoutMs) {
      // Our output waits on a remote that does not read (it may still be sending): cut it.
      this.destroy(
        new TransportError(
          'TIMEOUT',
          `the remote read nothing for ${this.#options.idleTimeoutMs} ms`,
        ),
      )
      return
    }
    if (!this.#open) return // before the hello nothing but the hello goes out
    if (now - this.#lastPingAt >= this.#options.keepAliveMs) {
      this.#ping = undefined // an unanswered ping is not waited for forever
      this.sendPing()
    }
  }
}

function isLocalId(id: number, initiator: boolean): boolean {
  return id % 2 === (initiator ? 1 : 0)
}

function pingPayload(nonce: number): Uint8Array {
  const out = new Uint8Array(8)
  new DataView(out.buffer).setUint32(4, nonce)
  return out
}

function carrierError(err: Error): TransportError {
  const code = (err as NodeJS.ErrnoException).code
  if (code === 'ETIMEDOUT' || /timed out/i.test(err.message)) {
    return new TransportError('TIMEOUT', err.message, { cause: err })
  }
  return new TransportError('CLOSED', `carrier failed: ${err.message}`, { cause: err })
}
