import type NoiseSecretStream from '@hyperswarm/secret-stream'
import { TransportError } from './errors'
import { Fifo } from './fifo'
import {
  carrierError,
  deliverStreamFrame,
  isLocalId,
  isStreamFrame,
  remoteCloseError,
} from './mux-control'
import {
  CloseCode,
  type CloseCodeValue,
  encodeCodeAndReason,
  encodeFrame,
  FrameType,
  INITIAL_WINDOW_BYTES,
  MUX_HEADER_BYTES,
  readU32,
} from './mux-frame'
import { MuxPinger } from './mux-ping'
import { MuxSender } from './mux-sender'
import { MuxStream, type StreamHost } from './mux-stream'
import type { Logger } from './types'
import type { SendGate, UdxSendGate } from './udx-send-gate'

/** Streams one side may have open at once on a connection (both sides enforce it). */
export const MAX_STREAMS_PER_SIDE = 256
/** How long a closing connection waits for the remote to hang up before cutting it. */
const CLOSE_GRACE_MS = 2000

export interface MuxHooks {
  /**
   * A HELLO frame arrived (payload as sent). Called inside the frame loop: a connection that
   * accepts it synchronously calls {@link Mux.setOpen} before the next frame is read, so
   * streams the remote opens in the same message as its hello are not refused (issue 9.4).
   */
  onHello(payload: Uint8Array): void
  /** The remote opened a stream. */
  onStream(stream: MuxStream): void
  /** The session ended; called once, with the reason. */
  onClose(error: Error): void
}

export interface MuxOptions {
  initiator: boolean
  /**
   * Whether stream windows must follow the queueing delay: true where the carrier buffers a
   * lot below us (TCP: megabytes of socket buffers that every stream waits behind).
   */
  windowsFollowDelay: boolean
  /** Smallest stream window (default: the first window, {@link INITIAL_WINDOW_BYTES}). */
  windowFloorBytes?: number
  /** The carrier's own smoothed round trip in ms, when it measures one (UDX). */
  carrierRttMs?: () => number
  /** Bounds what sits unsent in the carrier's own queue (UDX); see {@link UdxSendGate}. */
  sendGate?: (wake: () => void) => SendGate
  keepAliveMs: number
  idleTimeoutMs: number
  log: Logger
  hooks: MuxHooks
}

/**
 * The stream multiplexer of one connection, over one Noise secret stream (UDX or TCP).
 * Sending is the fair scheduler of {@link MuxSender}; receiving routes each frame to its
 * stream and enforces the windows we granted.
 */
export class Mux implements StreamHost {
  readonly noise: NoiseSecretStream
  readonly #options: MuxOptions
  readonly #log: Logger
  readonly #streams = new Map<number, MuxStream>()
  readonly #sender: MuxSender
  #helloSeen = false
  #nextLocalId: number
  #highestRemoteId = 0
  #remoteOpen = 0
  #localOpen = 0
  readonly #localOpenWaiters = new Fifo<() => void>()
  #open = false
  #closed = false
  #closing = false
  #closeError: Error | undefined
  #timer: NodeJS.Timeout
  #graceTimer: NodeJS.Timeout | undefined
  #lastReceivedAt = performance.now()
  readonly #pinger: MuxPinger
  #largestWindowBytes = INITIAL_WINDOW_BYTES
  #windowFloorBytes: number

  constructor(noise: NoiseSecretStream, options: MuxOptions) {
    this.noise = noise
    this.#options = options
    this.#log = options.log
    this.#windowFloorBytes = options.windowFloorBytes ?? INITIAL_WINDOW_BYTES
    this.#sender = new MuxSender(noise, options.sendGate)
    this.#pinger = new MuxPinger((frame) => this.sendControl(frame), options.carrierRttMs)
    this.#nextLocalId = options.initiator ? 1 : 2
    noise.on('data', (message: Uint8Array) => this.#onMessage(message))
    noise.on('drain', () => this.#sender.drained())
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
    return this.#pinger.rttMs
  }

  get rttSamples(): number {
    return this.#pinger.samples
  }

  get windowShouldShrink(): boolean {
    return this.#pinger.windowShouldShrink(this.#options.windowsFollowDelay)
  }

  get earlyGrants(): boolean {
    return this.#options.windowsFollowDelay
  }

  get windowFloorBytes(): number {
    return this.#windowFloorBytes
  }

  /** A bulk lane's streams grow their windows faster (see `LANE_WINDOW_FLOOR_BYTES`). */
  set windowFloorBytes(bytes: number) {
    this.#windowFloorBytes = bytes
  }

  get windowMayGrow(): boolean {
    return this.#pinger.windowMayGrow(this.#options.windowsFollowDelay)
  }

  get closed(): boolean {
    return this.#closed
  }

  get openStreams(): number {
    return this.#streams.size
  }

  /** The largest receive window any stream granted (starts at the initial window). */
  get largestWindowBytes(): number {
    return this.#largestWindowBytes
  }

  windowGrew(bytes: number): void {
    if (bytes > this.#largestWindowBytes) this.#largestWindowBytes = bytes
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
    this.#pinger.ping()
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
    this.#pinger.startBusy()
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
      // May pass the control cap and the carrier's backpressure: the last frame always goes.
      this.#sender.pushLast(encodeFrame(FrameType.CLOSE, 0, encodeCodeAndReason(code, reason)))
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
    this.#pinger.stop()
    if (this.#graceTimer !== undefined) clearTimeout(this.#graceTimer)
    this.#failStreams(this.#closeError)
    this.#sender.stop()
    for (const wake of this.#localOpenWaiters.drain()) wake()
    this.noise.destroy()
    this.#options.hooks.onClose(this.#closeError)
  }

  // ---- StreamHost ----

  markReady(stream: MuxStream): void {
    this.#sender.markReady(stream)
  }

  sendControl(frame: Uint8Array): void {
    if (this.#closed || this.#closing) return
    if (!this.#sender.pushControl(frame)) {
      // Replies pile up because the remote does not read them: close rather than buffer.
      this.destroy(
        new TransportError('PROTOCOL_ERROR', 'the remote does not read what it asks for'),
      )
    }
  }

  forget(stream: MuxStream): void {
    if (!this.#streams.delete(stream.id)) return
    this.#sender.forget(stream)
    if (isLocalId(stream.id, this.#options.initiator)) {
      this.#localOpen--
      this.#localOpenWaiters.shift()?.()
    } else {
      this.#remoteOpen--
    }
    if (this.#streams.size === 0) this.#pinger.stopBusy()
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
        this.#sender.replyPong(payload)
        return
      case FrameType.PONG:
        this.#pinger.onPong(payload)
        return
      case FrameType.CLOSE:
        this.destroy(remoteCloseError(payload))
        return
    }
    if (!this.#open) {
      this.#protocolError(`frame type ${type} before hello`)
      return
    }
    if (type === FrameType.OPEN) {
      this.#onOpen(id)
      return
    }
    if (!isStreamFrame(type)) return // unknown: a newer minor version
    const stream = this.#streams.get(id)
    if (stream === undefined) {
      // Frames for a stream that already finished (we aborted it, or both ends closed) race
      // with that news; frames for a stream never opened are a violation.
      if (this.#isPastId(id)) return
      this.#protocolError(`frame for unknown stream ${id}`)
      return
    }
    const violation = deliverStreamFrame(stream, type, payload)
    if (violation !== undefined) this.#protocolError(violation)
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
    this.#pinger.startBusy()
    if (this.#remoteOpen > MAX_STREAMS_PER_SIDE) {
      stream.refuse(`more than ${MAX_STREAMS_PER_SIDE} open streams`)
      return
    }
    this.#options.hooks.onStream(stream)
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
    this.#sender.clearReady()
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
    const blockedSince = this.#sender.blockedSince
    if (blockedSince !== 0 && now - blockedSince > this.#options.idleTimeoutMs) {
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
    this.#pinger.keepAlive(now, this.#options.keepAliveMs)
  }
}
