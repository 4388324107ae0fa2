import { pingPayload } from './mux-control'
import { encodeFrame, FrameType, readU32 } from './mux-frame'
import { RttEstimator } from './rtt'

/** Ping interval while streams are open: the round trips measure how much is queued. */
const BUSY_PING_MS = 20
/** On TCP, a window grows only while bytes queue for less than this between the two ends. */
const GROW_BELOW_DELAY_MS = 5
/** ...and shrinks while they queue for longer than this (other streams wait behind them). */
const SHRINK_ABOVE_DELAY_MS = 15
/** On UDX, a window grows only while bytes queue for less than this share of the quietest RTT... */
const GROW_BELOW_RTT_SHARE = 0.5
/**
 * ...and only on a path whose quietest RTT is at least this: below, the first 256 KiB carry
 * over 400 Mbit/s already, and UDX's estimate (whole ms) cannot tell a queue from noise.
 */
const GROW_FROM_RTT_MS = 5

/**
 * The multiplexer's own round-trip clock: PING/PONG on stream 0, one in flight at a time,
 * as keep-alive when idle and every {@link BUSY_PING_MS} while streams are open. A stream
 * window grows at most once per new sample, so on every carrier the samples must come about
 * once per round trip: with keep-alive pings only (every 5 s) a UDX window stayed near
 * 256 KiB for most of a transfer, about 6 MB/s per 40 ms of RTT (issue 12).
 */
export class MuxPinger {
  readonly #send: (frame: Uint8Array) => void
  readonly #rtt = new RttEstimator()
  /** The carrier's own round-trip estimate (UDX: from its acks), sampled at each pong. */
  readonly #carrierRttMs: (() => number) | undefined
  readonly #carrierRtt = new RttEstimator()
  #lastPingAt = 0
  #ping: { nonce: number; sentAt: number } | undefined
  #counter = 0
  #busy: NodeJS.Timeout | undefined
  #stopped = false

  constructor(send: (frame: Uint8Array) => void, carrierRttMs?: () => number) {
    this.#send = send
    this.#carrierRttMs = carrierRttMs
  }

  get rttMs(): number {
    return this.#rtt.smoothed
  }

  get samples(): number {
    return this.#rtt.samples
  }

  get minRttMs(): number {
    return this.#rtt.minMs
  }

  /**
   * Whether a stream window may grow now. On TCP (`tcpLike`), below 5 ms of queueing:
   * megabytes of socket buffers would otherwise fill in front of every other stream. On UDX,
   * whose own queue is bounded, below half the quietest round trip, on paths of 5 ms or more:
   * on a 40 ms path windows grow about once per round trip until the path is full (a
   * bandwidth-delay product); on loopback or a LAN, where the first 256 KiB already cover the
   * path, windows stay small, so a small request never waits behind a long queue of bulk data.
   */
  windowMayGrow(tcpLike: boolean): boolean {
    if (tcpLike) return this.#rtt.queueDelayMs <= GROW_BELOW_DELAY_MS
    // UDX's own estimate when it has one: a ping waits behind any lost packet (UDX delivers in
    // order), so with random loss most ping samples carry a retransmission's delay, while
    // UDX's ack-based estimate does not, and still sees the queue at the bottleneck.
    const rtt = this.#udxRtt()
    if (rtt.minMs < GROW_FROM_RTT_MS) return false
    return rtt.queueDelayMs <= rtt.minMs * GROW_BELOW_RTT_SHARE
  }

  /**
   * Whether stream windows should shrink: above 15 ms of queueing on TCP; on UDX above the
   * growth bound plus 15 ms, so a long path keeps about one bandwidth-delay product in flight
   * and a small request waits for at most about half a round trip plus 15 ms of queue (the
   * receiver's 4 MiB socket buffer fills when its CPU is the bottleneck).
   */
  windowShouldShrink(tcpLike: boolean): boolean {
    if (tcpLike) return this.#rtt.queueDelayMs > SHRINK_ABOVE_DELAY_MS
    const rtt = this.#udxRtt()
    return rtt.queueDelayMs > rtt.minMs * GROW_BELOW_RTT_SHARE + SHRINK_ABOVE_DELAY_MS
  }

  #udxRtt(): RttEstimator {
    return this.#carrierRtt.samples > 0 ? this.#carrierRtt : this.#rtt
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
    const carrierRtt = this.#carrierRttMs?.() ?? 0
    if (carrierRtt > 0) this.#carrierRtt.add(carrierRtt, now)
  }

  /** Pings often while streams are open, so windows can follow the path. */
  startBusy(): void {
    if (this.#busy !== undefined || this.#stopped) return
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
