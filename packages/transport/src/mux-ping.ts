import { pingPayload } from './mux-control'
import { encodeFrame, FrameType, readU32 } from './mux-frame'
import { RttEstimator } from './rtt'

/** Ping interval while streams are open: the round trips measure how much is queued. */
const BUSY_PING_MS = 20

/**
 * The multiplexer's own round-trip clock: PING/PONG on stream 0, one in flight at a time,
 * as keep-alive when idle and every {@link BUSY_PING_MS} while streams are open (when
 * windows follow the queueing delay).
 */
export class MuxPinger {
  readonly #send: (frame: Uint8Array) => void
  readonly #busyPings: boolean
  readonly #rtt = new RttEstimator()
  #lastPingAt = 0
  #ping: { nonce: number; sentAt: number } | undefined
  #counter = 0
  #busy: NodeJS.Timeout | undefined
  #stopped = false

  constructor(send: (frame: Uint8Array) => void, options: { busyPings: boolean }) {
    this.#send = send
    this.#busyPings = options.busyPings
  }

  get rttMs(): number {
    return this.#rtt.smoothed
  }

  get samples(): number {
    return this.#rtt.samples
  }

  get queueDelayMs(): number {
    return this.#rtt.queueDelayMs
  }

  ping(): void {
    this.#lastPingAt = performance.now()
    if (this.#ping !== undefined) return // one in flight at a time keeps the sample honest
    const nonce = ++this.#counter
    this.#ping = { nonce, sentAt: this.#lastPingAt }
    this.#send(encodeFrame(FrameType.PING, 0, pingPayload(nonce)))
  }

  /** Sends a keep-alive ping when none went out for `keepAliveMs`. */
  keepAlive(now: number, keepAliveMs: number): void {
    if (now - this.#lastPingAt < keepAliveMs) return
    this.#ping = undefined // an unanswered ping is not waited for forever
    this.ping()
  }

  onPong(payload: Uint8Array): void {
    const ping = this.#ping
    if (ping === undefined || payload.length !== 8 || readU32(payload, 4) !== ping.nonce) return
    this.#ping = undefined
    const now = performance.now()
    this.#rtt.add(now - ping.sentAt, now)
  }

  /** Pings often while streams are open, so window sizes follow the queueing delay. */
  startBusy(): void {
    if (!this.#busyPings || this.#busy !== undefined || this.#stopped) return
    this.#busy = setInterval(() => {
      if (this.#ping === undefined) this.ping()
    }, BUSY_PING_MS)
  }

  stopBusy(): void {
    clearInterval(this.#busy)
    this.#busy = undefined
  }

  stop(): void {
    this.#stopped = true
    this.stopBusy()
  }
}
