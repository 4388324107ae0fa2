import { TransportError } from './errors'
import { Fifo } from './fifo'
import {
  DATA_FRAME_CHARGE_BYTES,
  encodeCodeAndReason,
  encodeFrame,
  FrameType,
  INITIAL_WINDOW_BYTES,
  MAX_WINDOW_BYTES,
  ResetCode,
  u32,
} from './mux-frame'
import { ReceiveQueue } from './receive-queue'
import type { AbortOptions, StreamWriteOptions, TransportStream } from './types'

/** What a stream needs from the connection that carries it. */
export interface StreamHost {
  /** The stream has bytes it may send (data within its window, or a pending END). */
  markReady(stream: MuxStream): void
  /** Queues a small frame ahead of stream data. */
  sendControl(frame: Uint8Array): void
  /** The stream is finished in both directions; stop routing frames to it. */
  forget(stream: MuxStream): void
  /** A receive window grew to `bytes` (the host keeps the largest, for stats). */
  windowGrew(bytes: number): void
  /**
   * Whether bytes queue so little between the two ends that a larger window would go to the
   * path rather than into a queue (the host decides the bound per carrier).
   */
  readonly windowMayGrow: boolean
  /** Whether bytes queue so long between the two ends that other streams wait behind them. */
  readonly windowShouldShrink: boolean
  /**
   * Grant more window after a quarter of it is consumed instead of half (TCP): a 256 KiB
   * window is one message, and at half the sender waited for each grant.
   */
  readonly earlyGrants: boolean
  /**
   * Smallest window a stream shrinks to, and grows to without waiting for a delay sample
   * (TCP: {@link TCP_WINDOW_FLOOR_BYTES}; else the first window).
   */
  readonly windowFloorBytes: number
  /**
   * Counts round-trip samples (0 = none yet). A window changes at most once per new sample,
   * so each change is judged by a delay measured after the previous one.
   */
  readonly rttSamples: number
}

/** Bytes a writer may queue before `write()` waits for them to go out. */
export const STREAM_HIGH_WATER_BYTES = 256 * 1024

interface Waiter<T = void> {
  resolve: (value: T) => void
  reject: (err: unknown) => void
}

const DONE: IteratorReturnResult<undefined> = { done: true, value: undefined }

/**
 * One bidirectional byte stream of a connection, with its own flow-control window in each
 * direction: the remote may send only as many bytes as we granted, and we grant more only
 * as the local reader consumes them, so a slow reader slows its sender without holding up
 * the other streams, and memory stays bounded by the window.
 */
export class MuxStream implements TransportStream {
  readonly id: number
  readonly closed: Promise<void>
  readonly #host: StreamHost

  // Sending: user chunks wait here until the scheduler cuts frames from them.
  readonly #sendQueue = new Fifo<Uint8Array>()
  #sendBytes = 0
  #credit = INITIAL_WINDOW_BYTES
  #blockedSent = false
  #writeState: 'open' | 'ending' | 'ended' = 'open'
  #drainWaiters: Waiter[] = []
  #endWaiters: Waiter[] = []
  /** Bytes ever queued and ever taken: a chunk is copied out once `#takenTotal` passes its end. */
  #queuedTotal = 0
  #takenTotal = 0
  /** `untilCopied` writers, oldest first, and where each one's chunk ends in `#queuedTotal`. */
  #copyWaiters: Waiter[] = []
  #copyTargets: number[] = []

  // Receiving.
  readonly #recvQueue = new ReceiveQueue()
  #allowance = INITIAL_WINDOW_BYTES
  #window = INITIAL_WINDOW_BYTES
  #consumed = 0
  #windowChangedAtSample = -1
  #growthCheckQueued = false
  #readStopped = false
  #remoteEnded = false
  /** A reader waiting in `next()`; data arriving then goes straight to it. */
  #reader: Waiter<IteratorResult<Uint8Array>> | undefined

  #error: unknown
  /** Set when the remote stopped reading: writes fail with it while the read side lives on. */
  #writeError: unknown
  #failed = false
  #finished = false
  #resolveClosed!: () => void

  constructor(id: number, host: StreamHost) {
    this.id = id
    this.#host = host
    this.closed = new Promise((resolve) => {
      this.#resolveClosed = resolve
    })
  }

  // ---- public API ----

  async write(chunk: Uint8Array, options: StreamWriteOptions = {}): Promise<void> {
    options.signal?.throwIfAborted()
    if (this.#failed) throw this.#error
    if (this.#writeError !== undefined) throw this.#writeError
    if (this.#writeState !== 'open') {
      throw new TransportError('CLOSED', `stream ${this.id}: write after end()`)
    }
    if (chunk.length === 0) return
    this.#sendQueue.push(chunk)
    this.#sendBytes += chunk.length
    this.#queuedTotal += chunk.length
    if (this.sendable > 0) this.#host.markReady(this)
    else this.#sayBlocked()
    if (options.untilCopied === true) {
      // Taken in order: the chunk is out once everything queued up to its end was taken.
      this.#copyTargets.push(this.#queuedTotal)
      return this.#wait(this.#copyWaiters, options.signal)
    }
    if (this.#sendBytes <= STREAM_HIGH_WATER_BYTES) return
    await this.#wait(this.#drainWaiters, options.signal)
  }

  async end(options: AbortOptions = {}): Promise<void> {
    options.signal?.throwIfAborted()
    if (this.#failed) throw this.#error
    if (this.#writeError !== undefined) throw this.#writeError
    if (this.#writeState === 'ended') return
    if (this.#writeState === 'open') {
      this.#writeState = 'ending'
      this.#host.markReady(this)
    }
    await this.#wait(this.#endWaiters, options.signal)
  }

  abort(reason?: unknown): void {
    if (this.#failed || this.#finished) return
    const error = reason ?? new TransportError('RESET', `stream ${this.id} aborted`)
    const text = reason instanceof Error ? reason.message : 'aborted'
    this.#host.sendControl(
      encodeFrame(FrameType.RESET, this.id, encodeCodeAndReason(ResetCode.CANCEL, text)),
    )
    this.#fail(error)
  }

  [Symbol.asyncIterator](): AsyncIterator<Uint8Array> {
    return {
      next: () => this.#next(),
      return: async () => {
        this.#stopReading()
        return { done: true, value: undefined }
      },
    }
  }

  // ---- called by the multiplexer ----

  /** Payload bytes that may go out now in one frame: queued and within the remote's window. */
  get sendable(): number {
    if (this.#failed) return 0
    return Math.min(this.#sendBytes, Math.max(0, this.#credit - DATA_FRAME_CHARGE_BYTES))
  }

  /** True when END is due: end() was called and every queued byte is out. */
  get wantsEnd(): boolean {
    return !this.#failed && this.#writeState === 'ending' && this.#sendBytes === 0
  }

  /** Removes `n` sendable bytes (one DATA frame) from the queue, as views of the writer's chunks. */
  take(n: number): Uint8Array[] {
    const parts: Uint8Array[] = []
    let left = n
    while (left > 0) {
      const head = this.#sendQueue.peek()!
      if (head.length <= left) {
        parts.push(head)
        this.#sendQueue.shift()
        left -= head.length
      } else {
        parts.push(head.subarray(0, left))
        this.#sendQueue.replaceFirst(head.subarray(left))
        left = 0
      }
    }
    this.#sendBytes -= n
    this.#takenTotal += n
    this.#credit -= n + DATA_FRAME_CHARGE_BYTES
    if (this.sendable === 0 && this.#sendBytes > 0) this.#sayBlocked()
    if (this.#sendBytes <= STREAM_HIGH_WATER_BYTES) settle(this.#drainWaiters)
    // The multiplexer copies `parts` before anything else runs: those chunks are free.
    while ((this.#copyTargets[0] ?? Number.POSITIVE_INFINITY) <= this.#takenTotal) {
      this.#copyTargets.shift()
      this.#copyWaiters.shift()!.resolve()
    }
    return parts
  }

  /** Tells the receiver its window is what holds us back (once per window); it decides. */
  #sayBlocked(): void {
    if (this.#blockedSent) return
    this.#blockedSent = true
    this.#host.sendControl(encodeFrame(FrameType.BLOCKED, this.id))
  }

  endSent(): void {
    this.#writeState = 'ended'
    settle(this.#endWaiters)
    this.#maybeFinish()
  }

  /**
   * Returns false when the remote overran the window we granted (a protocol violation).
   * `payload` is never empty (the multiplexer refuses empty DATA frames).
   */
  receiveData(payload: Uint8Array): boolean {
    if (this.#remoteEnded) return false
    const charge = payload.length + DATA_FRAME_CHARGE_BYTES
    if (charge > this.#allowance) return false
    if (this.#failed) return true // aborted locally; the RESET is on its way
    this.#allowance -= charge
    if (this.#readStopped) return true // sent before our STOP arrived: dropped
    const reader = this.#reader
    if (reader !== undefined) {
      // Handing the bytes over at once keeps them short-lived (cheap for the GC).
      this.#reader = undefined
      this.#grant(charge)
      reader.resolve({ done: false, value: payload })
      return true
    }
    this.#recvQueue.push(payload, charge)
    return true
  }

  receiveEnd(): boolean {
    if (this.#remoteEnded) return false
    this.#remoteEnded = true
    this.#wake()
    this.#maybeFinish()
    return true
  }

  receiveWindow(increment: number): boolean {
    if (this.#credit + increment > 2 ** 32) return false
    this.#credit += increment
    this.#blockedSent = false
    if (this.sendable > 0) this.#host.markReady(this)
    return true
  }

  /**
   * The sender ran out of window. Grow it when our reader keeps up and bytes are not piling
   * up in the buffers between us: then the window, not the path, limits the transfer.
   * Judged once the reader has had its turn: BLOCKED comes right behind the bytes that used up
   * the window, before the reader could take them. Judged at once, the queue looked full every
   * time, and a TCP window once shrunk to 256 KiB (one message) stayed there for the rest of
   * a 1 GiB download.
   */
  receiveBlocked(): void {
    if (this.#growthCheckQueued) return
    this.#growthCheckQueued = true
    setImmediate(() => {
      this.#growthCheckQueued = false
      this.#maybeGrow()
    })
  }

  #maybeGrow(): void {
    if (this.#remoteEnded || this.#failed || this.#window >= MAX_WINDOW_BYTES) return
    if (this.#recvQueue.bytes > this.#window / 2) return // our reader is the bottleneck
    // Up to the floor a window grows on every BLOCKED: the floor is what any path may hold.
    if (this.#window >= this.#host.windowFloorBytes) {
      if (!this.#freshSample()) return // no measurement since the last change
      if (!this.#host.windowMayGrow) return // the path is full already
      this.#windowChangedAtSample = this.#host.rttSamples
    }
    const grown = Math.min(this.#window * 2, MAX_WINDOW_BYTES)
    const increment = grown - this.#window + this.#consumed
    this.#window = grown
    this.#consumed = 0
    this.#sendWindow(increment)
    this.#host.windowGrew(grown)
  }

  /**
   * The remote stopped reading: drop what is queued, fail writers that wait or come later,
   * and end our side so the stream can finish.
   */
  receiveStop(): void {
    if (this.#failed || this.#writeState === 'ended') return
    const error = new TransportError('RESET', `the remote stopped reading stream ${this.id}`)
    this.#sendQueue.clear()
    this.#sendBytes = 0
    this.#copyTargets = []
    const writers = [
      ...this.#drainWaiters.splice(0),
      ...this.#copyWaiters.splice(0),
      ...this.#endWaiters.splice(0),
    ]
    for (const w of writers) w.reject(error)
    this.#writeError = error
    if (this.#writeState === 'open') this.#writeState = 'ending'
    this.#host.markReady(this)
  }

  /** The remote reset the stream, or the connection ended. */
  fail(error: unknown): void {
    if (this.#failed || this.#finished) return
    this.#fail(error)
  }

  /** Refuses a stream the remote opened (backlog or stream limit reached). */
  refuse(reason: string): void {
    this.#host.sendControl(
      encodeFrame(FrameType.RESET, this.id, encodeCodeAndReason(ResetCode.REFUSED, reason)),
    )
    this.#fail(new TransportError('STREAM_REFUSED', reason))
  }

  // ---- internals ----

  #next(): Promise<IteratorResult<Uint8Array>> {
    if (this.#readStopped) return Promise.resolve(DONE)
    const received = this.#recvQueue.shift()
    if (received !== undefined) {
      this.#grant(received.charge)
      return Promise.resolve({ done: false, value: received.value })
    }
    if (this.#failed) return Promise.reject(this.#error)
    if (this.#remoteEnded) return Promise.resolve(DONE)
    if (this.#reader !== undefined) return Promise.reject(new TypeError('one read at a time'))
    return new Promise((resolve, reject) => {
      this.#reader = { resolve, reject }
    })
  }

  #grant(consumed: number): void {
    if (this.#remoteEnded || this.#failed) return
    this.#consumed += consumed
    if (this.#consumed < this.#window / (this.#host.earlyGrants ? 4 : 2)) return
    let increment = this.#consumed
    if (
      this.#window > this.#host.windowFloorBytes &&
      this.#host.windowShouldShrink &&
      this.#freshSample()
    ) {
      this.#windowChangedAtSample = this.#host.rttSamples
      // Bytes of this stream sit in buffers in front of every other stream's: give back less.
      const shrunk = Math.max(this.#window / 2, this.#host.windowFloorBytes)
      increment -= this.#window - shrunk
      this.#window = shrunk
    }
    this.#consumed = 0
    if (increment > 0) this.#sendWindow(increment)
  }

  #freshSample(): boolean {
    const samples = this.#host.rttSamples
    return samples > 0 && samples > this.#windowChangedAtSample
  }

  #sendWindow(increment: number): void {
    this.#allowance += increment
    this.#host.sendControl(encodeFrame(FrameType.WINDOW, this.id, u32(increment)))
  }

  /** The local reader left its loop early: drop the rest and ask the sender to stop. */
  #stopReading(): void {
    if (this.#readStopped || this.#failed) return
    this.#readStopped = true
    this.#recvQueue.clear()
    this.#wake()
    if (!this.#remoteEnded) this.#host.sendControl(encodeFrame(FrameType.STOP, this.id))
  }

  /** Settles a waiting reader after the stream ended, failed or stopped reading. */
  #wake(): void {
    const reader = this.#reader
    if (reader === undefined) return
    this.#reader = undefined
    if (this.#failed) reader.reject(this.#error)
    else reader.resolve(DONE)
  }

  #wait(list: Waiter[], signal: AbortSignal | undefined): Promise<void> {
    return new Promise<void>((resolve, reject) => {
      const onAbort = () => {
        this.abort(signal!.reason)
      }
      const waiter: Waiter = {
        resolve: () => {
          signal?.removeEventListener('abort', onAbort)
          resolve()
        },
        reject: (err) => {
          signal?.removeEventListener('abort', onAbort)
          reject(err)
        },
      }
      list.push(waiter)
      signal?.addEventListener('abort', onAbort, { once: true })
    })
  }

  #fail(error: unknown): void {
    this.#failed = true
    this.#error = error
    this.#sendQueue.clear()
    this.#sendBytes = 0
    this.#copyTargets = []
    this.#recvQueue.clear()
    const waiters = [...this.#drainWaiters, ...this.#copyWaiters, ...this.#endWaiters]
    this.#drainWaiters = []
    this.#copyWaiters = []
    this.#endWaiters = []
    for (const w of waiters) w.reject(error)
    this.#wake()
    this.#finish()
  }

  #maybeFinish(): void {
    if (this.#writeState === 'ended' && this.#remoteEnded) this.#finish()
  }

  #finish(): void {
    if (this.#finished) return
    this.#finished = true
    this.#host.forget(this)
    this.#resolveClosed()
  }
}

function settle(list: Waiter[]): void {
  if (list.length === 0) return
  const waiters = list.splice(0)
  for (const w of waiters) w.resolve()
}
