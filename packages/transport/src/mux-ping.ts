import { pingPayload } from './mux-control'
import { encodeFrame, FrameType, readU32 } from './mux-frame'
import { RttEstimator } from './rtt'

/** Ping interval while streams are open: the round trips measure how much is queued. */
const BUSY_PING_MS = 20
/** A window grows while bytes queue between the two ends for less than this share of the quietest RTT... */
const GROW_BELOW_RTT_SHARE = 0.5
/** ...or less than this (a LAN, loopback). */
const GROW_BELOW_DELAY_MS = 5
/** It shrinks once they queue this much longer than the growth bound on TCP... */
const SHRINK_MARGIN_MS = 10
/** ...and on UDX, where the bound is half the quietest RTT, this much longer. */
const SHRINK_ABOVE_DELAY_MS = 15
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
   * Whether a stream window may grow now: while bytes queue between the two ends for less than
   * half the quietest round trip, and at least 5 ms. On a 40 ms path windows then grow about
   * once per round trip until the path holds a bandwidth-delay product (with a margin for
   * grants in flight); on a LAN or loopback the 5 ms keep them small, so a small request never
   * waits behind a long queue of bulk data. TCP is measured by our pings; UDX by its own
   * ack-based estimate, on paths of 5 ms or more only.
   */
  windowMayGrow(tcpLike: boolean): boolean {
    if (tcpLike) return this.#rtt.queueDelayMs <= growthBound(this.#rtt)
    // UDX's own estimate when it has one: a ping waits behind any lost packet (UDX delivers in
    // order), so with random loss most ping samples carry a retransmission's delay, while
    // UDX's ack-based estimate does not, and still sees the queue at the bottleneck.
    const rtt = this.#udxRtt()
    if (rtt.minMs < GROW_FROM_RTT_MS) return false
    return rtt.queueDelayMs <= rtt.minMs * GROW_BELOW_RTT_SHARE
  }

  /**
   * Whether stream windows should shrink (halve, down to the first 256 KiB), on both carriers:
   * on TCP once the queue passes the growth bound by {@link SHRINK_MARGIN_MS} (15 ms on a LAN,
   * 30 ms on a 40 ms path), on UDX by {@link SHRINK_ABOVE_DELAY_MS}. TCP's socket buffers grow to megabytes that every other stream
   * waits behind; on UDX our send gate keeps libudx's own queue short, but the bottleneck's
   * queue and the receiver's 4 MiB socket buffer (when its CPU is the bottleneck) still fill.
   */
  windowShouldShrink(tcpLike: boolean): boolean {
    if (tcpLike) return this.#rtt.queueDelayMs > growthBound(this.#rtt) + SHRINK_MARGIN_MS
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

/** Growth bound on TCP: half the quietest round trip, at least {@link GROW_BELOW_DELAY_MS}. */
function growthBound(rtt: RttEstimator): number {
  return Math.max(GROW_BELOW_DELAY_MS, rtt.minMs * GROW_BELOW_RTT_SHARE)
}
