import type UDX from 'udx-native'

/** The cap in bandwidth-delay products: a quarter BDP of queue at most while the link is full. */
const CAP_GAIN = 1.25
/**
 * While the smoothed RTT shows no queue (within 10 % of the minimum), the cap is 2 BDP, so a
 * transfer ramps up about as fast as libudx's own start-up; 2 BDP in flight still fit a
 * bottleneck buffer of one BDP.
 */
const RAMP_GAIN = 2
const NO_QUEUE_RTT_RATIO = 1.1
/**
 * libudx's BBR state while it is in start-up: it then paces at 2.9x its estimate, so the RTT
 * rises at once, and a cap of 1.25x held a fresh stream (a bulk lane) at its first estimate
 * for the three round trips after which BBR leaves start-up for good (traced, §3.2).
 */
const BBR_STARTUP = 0
/** The cap never goes below this (a slow start from a quiet connection, tiny RTTs). */
const MIN_CAP_BYTES = 256 * 1024
/** A delivery-rate sample spans at least one minimum RTT and at least this long. */
const MIN_SAMPLE_MS = 20
/** The rate is the largest of this many samples (about as many round trips). */
const RATE_SAMPLES = 8
/** A sample spanning more than this saw an idle or stalled sender: it says nothing. */
const MAX_SAMPLE_MS = 1000
/**
 * Paths shorter than this get no cap: a LAN's BDP is a few packets and its switches' buffers
 * are not the queue an `ls` waits in; on loopback the cap's floor would bind and a receiver's
 * event-loop stall would idle the path (the send gate's short queue is enough there).
 */
const MIN_PATH_RTT_MS = 5
/** The minimum RTT is the smallest smoothed RTT over the last 10 to 20 s. */
const MIN_RTT_WINDOW_MS = 10_000

/**
 * Bounds the bytes libudx holds in flight to {@link CAP_GAIN} times the path's
 * bandwidth-delay product (issue 12). libudx's BBR keeps up to twice its BDP in flight, and its
 * bandwidth estimate (a windowed maximum of per-ack samples) ran 1.5-1.75x the link here, since
 * a busy receiver acks in bursts; a bottleneck with one BDP of buffer (a home router) then stays
 * full and tail-drops, and a small reply waits behind the queue and behind the resends.
 *
 * The rate here is measured over whole round trips (bytes that left flight: acknowledged,
 * selectively acknowledged or declared lost), so ack bursts average out, and holes behind a
 * lost packet do not hold it back: random loss does not lower the cap. The cap leaves room to
 * grow: with a quarter BDP more in flight than the last rate needed, the next round trips
 * deliver up to 1.25x as much when the link has it.
 */
export class UdxInflightCap {
  readonly #raw: UDX.Stream
  /** A bulk lane's cap: 2 BDP while libudx's BBR is in start-up ({@link BBR_STARTUP}). */
  rampInStartup = false
  readonly #samples: number[] = []
  #sampleFrom = 0
  #leftAtSampleStart = 0
  #minRtt = 0
  #minRttNext = 0
  #minRttWindowFrom = 0

  constructor(raw: UDX.Stream) {
    this.#raw = raw
  }

  /** Most bytes that may be in libudx (in flight plus unsent) now; Infinity before a measure. */
  capBytes(now: number): number {
    this.#update(now)
    if (this.#samples.length === 0 || this.#minRtt < MIN_PATH_RTT_MS)
      return Number.POSITIVE_INFINITY
    const rate = Math.max(...this.#samples)
    const ramping =
      (this.rampInStartup && this.#raw.bbrState === BBR_STARTUP) ||
      this.#raw.rtt <= NO_QUEUE_RTT_RATIO * this.#minRtt
    const gain = ramping ? RAMP_GAIN : CAP_GAIN
    return Math.max(MIN_CAP_BYTES, gain * rate * this.#minRtt)
  }

  /** The measured rate (bytes per ms) and minimum RTT (ms), for stats and tests. */
  get estimate(): { rateBytesPerMs: number; minRttMs: number } {
    const rate = this.#samples.length === 0 ? 0 : Math.max(...this.#samples)
    return { rateBytesPerMs: rate, minRttMs: this.#minRtt }
  }

  #update(now: number): void {
    const raw = this.#raw
    const srtt = raw.rtt
    if (Number.isFinite(srtt) && srtt > 0) {
      if (this.#minRtt === 0 || srtt < this.#minRtt) this.#minRtt = srtt
      if (this.#minRttNext === 0 || srtt < this.#minRttNext) this.#minRttNext = srtt
      if (now - this.#minRttWindowFrom > MIN_RTT_WINDOW_MS) {
        // Two windows: the minimum follows a path that got longer within 20 s.
        this.#minRtt = this.#minRttNext
        this.#minRttNext = srtt
        this.#minRttWindowFrom = now
      }
    }
    // Bytes (wire, resends included) that left flight since the stream began.
    const left = raw.bytesTransmitted - raw.inflight
    if (!Number.isFinite(left)) return
    const elapsed = now - this.#sampleFrom
    if (this.#sampleFrom === 0 || elapsed > MAX_SAMPLE_MS) {
      this.#sampleFrom = now
      this.#leftAtSampleStart = left
      return
    }
    if (elapsed < Math.max(MIN_SAMPLE_MS, this.#minRtt)) return
    const sample = (left - this.#leftAtSampleStart) / elapsed
    this.#sampleFrom = now
    this.#leftAtSampleStart = left
    if (sample <= 0) return
    this.#samples.push(sample)
    if (this.#samples.length > RATE_SAMPLES) this.#samples.shift()
  }
}
