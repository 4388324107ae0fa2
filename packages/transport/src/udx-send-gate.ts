import type UDX from 'udx-native'
import { UdxInflightCap } from './udx-inflight-cap'

/** How much sending time the carrier may hold beyond what is in flight. */
const QUEUE_MS = 25
/**
 * Floors and caps of that queue in bytes (the floor keeps the wire busy through short stalls).
 * The floor binds in start-up, while the congestion window is a few packets: an `ls` sent with
 * the transfer request waits behind it. 200 Mbit/s / 40 ms, that first `ls` in five runs each:
 * 152-156 ms behind 32 KiB, 126-142 ms behind 16 KiB, throughput the same (docs/transport.md
 * §7.1.3).
 */
const MIN_QUEUE_BYTES = 16 * 1024
const START_QUEUE_BYTES = 256 * 1024
const MAX_QUEUE_BYTES = 4 * 1024 * 1024
/** Secret-stream's framing per message: a 3-byte length and a 17-byte tag. */
const MESSAGE_OVERHEAD = 20
/** libudx's header on every packet, counted in `bytesTransmitted` and `inflight`. */
const UDX_HEADER_BYTES = 20
/** IPv4 + UDP + UDX headers: a packet's payload is the MTU minus these. */
const PACKET_HEADERS_BYTES = 48
/** The acknowledged rate is sampled over at least this long, and at most this long (idle). */
const RATE_INTERVAL_MS = 25
const RATE_IDLE_MS = 200
/** While the gate holds the sender, it looks again this often (acks of a later write may not come). */
const RECHECK_MS = 2

/** What the multiplexer's sender asks before it hands the carrier another message. */
export interface SendGate {
  /** Bytes the carrier may take now; 0 or less: wait (the gate wakes the sender later). */
  room(): number
  /** A message of `bytes` went to the carrier. */
  written(bytes: number): void
  /** The connection ends: no more wake-ups. */
  stop(): void
}

/**
 * Keeps what sits unsent in UDX's own send queue to about {@link QUEUE_MS} of its sending
 * rate (issue 12). libudx accepts writes until 256 KiB plus a congestion window are unacked,
 * and a small reply written after that waits for all of it: at 3.5 MB/s, 150 ms. Data beyond
 * the budget waits in the multiplexer, where other streams take turns with it.
 *
 * The unsent queue is what we handed over minus what libudx transmitted once: its counters
 * give every byte sent (headers and resends included), so resent packets are taken out at one
 * full payload each. It is bounded by what we handed over minus what is acknowledged
 * (`flush()` resolves once every earlier write is) minus what is in flight: that bound alone
 * counts bytes delivered behind a lost packet as unsent, and with 0.5 % loss there is a hole
 * nearly all the time, so the gate closed, libudx ran dry, its BBR estimate fell with it and
 * the carrier made 2-4 Mbit/s of a 200 Mbit/s link (bare UDX: 150).
 *
 * On top of that budget, unsent plus in-flight bytes stay under {@link UdxInflightCap}'s cap
 * (about one BDP), so libudx's BBR does not overfill the bottleneck's buffer.
 */
export class UdxSendGate implements SendGate {
  readonly #raw: UDX.Stream
  readonly #wake: () => void
  #handed = 0
  #acked = 0
  /** Acknowledged bytes per ms from `flush()` (0 before the first sample). */
  #rate = 0
  #rateFrom = performance.now()
  #rateAcked = 0
  #waiting: NodeJS.Timeout | undefined
  #stopped = false
  // libudx's counters when the gate started, and the resends seen since.
  readonly #bytesAtStart: number
  readonly #packetsAtStart: number
  #retransmits: number
  #resentBytes = 0
  /** Correction of the transmitted estimate, set whenever the bounds prove it wrong. */
  #sentCorrection = 0
  readonly #cap: UdxInflightCap

  constructor(raw: UDX.Stream, wake: () => void) {
    this.#raw = raw
    this.#wake = wake
    this.#bytesAtStart = raw.bytesTransmitted
    this.#packetsAtStart = raw.packetsTransmitted
    this.#retransmits = raw.retransmits
    this.#cap = new UdxInflightCap(raw)
  }

  /** A bulk lane: the in-flight cap allows 2 BDP while libudx's BBR is in start-up. */
  set bulkLane(on: boolean) {
    this.#cap.rampInStartup = on
  }

  /** The unsent bytes below us, as last estimated. */
  get unsentBytes(): number {
    const raw = this.#raw
    const payload = raw.mtu - PACKET_HEADERS_BYTES
    const retransmits = raw.retransmits
    // A 16-bit counter in libudx: count the steps, wrapping.
    this.#resentBytes += ((retransmits - this.#retransmits) & 0xffff) * payload
    this.#retransmits = retransmits
    const transmitted =
      raw.bytesTransmitted -
      this.#bytesAtStart -
      UDX_HEADER_BYTES * (raw.packetsTransmitted - this.#packetsAtStart) -
      this.#resentBytes +
      this.#sentCorrection
    const inflightPayload = raw.inflight - UDX_HEADER_BYTES * Math.ceil(raw.inflight / payload)
    const bound = Math.max(0, this.#handed - this.#acked - Math.max(0, inflightPayload))
    const estimate = this.#handed - transmitted
    // Keep the estimate between the bounds, so its errors (resends shorter than a full packet,
    // acks with SACK blocks) never add up.
    if (estimate > bound) {
      this.#sentCorrection += estimate - bound
      return bound
    }
    if (estimate < 0) {
      this.#sentCorrection += estimate
      return 0
    }
    return estimate
  }

  /**
   * Bytes per ms: libudx's BBR estimate when it has one (losses do not stall it), else ours;
   * at most twice what the congestion window carries per RTT. In start-up the window is a few
   * packets while BBR's first samples (and our 256 KiB start) are far larger: an `ls` reply
   * right after a transfer began waited behind 64-256 KiB that the window took 4-5 RTTs to
   * send (the slowest busy `ls` of a run, 200-210 ms at 40 ms RTT, came at t=0).
   */
  get #rateNow(): number {
    const raw = this.#raw
    const bbr = raw.bbrBandwidth / 1000
    const rate = bbr > 0 ? bbr : this.#rate
    const rtt = raw.rtt
    const cwnd = raw.cwnd
    if (!(rtt > 0 && cwnd > 0)) return rate
    const byWindow = (2 * cwnd * (raw.mtu - PACKET_HEADERS_BYTES)) / rtt
    return rate === 0 ? byWindow : Math.min(rate, byWindow)
  }

  room(): number {
    const rate = this.#rateNow
    const budget =
      rate === 0
        ? START_QUEUE_BYTES
        : Math.min(MAX_QUEUE_BYTES, Math.max(MIN_QUEUE_BYTES, rate * QUEUE_MS))
    const unsent = this.unsentBytes
    const cap = this.#cap.capBytes(performance.now())
    // Whole bytes: a fractional room became a fractional frame length (bytes lost at the end).
    const room = Math.floor(Math.min(budget - unsent, cap - unsent - this.#raw.inflight))
    if (room <= 0) this.#hold()
    return room
  }

  written(bytes: number): void {
    this.#handed += bytes + MESSAGE_OVERHEAD
    const mark = this.#handed
    this.#raw.flush().then(
      (acked) => {
        if (acked) this.#onAcked(mark)
      },
      () => {},
    )
  }

  stop(): void {
    this.#stopped = true
    clearTimeout(this.#waiting)
    this.#waiting = undefined
  }

  /** Wakes the sender at the next ack or after {@link RECHECK_MS}, whichever is first. */
  #hold(): void {
    if (this.#waiting !== undefined || this.#stopped) return
    this.#waiting = setTimeout(() => this.#release(), RECHECK_MS)
  }

  #release(): void {
    if (this.#waiting === undefined) return
    clearTimeout(this.#waiting)
    this.#waiting = undefined
    this.#wake()
  }

  #onAcked(mark: number): void {
    if (mark <= this.#acked) return
    this.#acked = mark
    const now = performance.now()
    const elapsed = now - this.#rateFrom
    if (elapsed > RATE_IDLE_MS) {
      // Acks after a pause say little about the rate; start a new sample.
      this.#rateFrom = now
      this.#rateAcked = this.#acked
    } else if (elapsed >= RATE_INTERVAL_MS) {
      const sample = (this.#acked - this.#rateAcked) / elapsed
      this.#rate = this.#rate === 0 ? sample : 0.75 * this.#rate + 0.25 * sample
      this.#rateFrom = now
      this.#rateAcked = this.#acked
    }
    this.#release()
  }
}
