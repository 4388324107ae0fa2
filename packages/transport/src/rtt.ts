/** The quietest round trip is remembered for this long. */
const MIN_RTT_WINDOW_MS = 10_000

/**
 * Round-trip estimate from ping samples: a smoothed average, and a windowed minimum whose
 * excess is the time bytes spend queued between the two ends.
 */
export class RttEstimator {
  smoothed = 0
  samples = 0
  #min = Number.POSITIVE_INFINITY
  #minNext = Number.POSITIVE_INFINITY
  #minSince = performance.now()

  /** The quietest recent round trip, in ms (0 before the first sample). */
  get minMs(): number {
    return this.samples === 0 ? 0 : this.#min
  }

  /** How much longer than the quietest recent round trip the current one is, in ms. */
  get queueDelayMs(): number {
    return this.smoothed === 0 ? 0 : Math.max(0, this.smoothed - this.#min)
  }

  add(sample: number, now: number): void {
    this.samples++
    this.smoothed = this.smoothed === 0 ? sample : 0.75 * this.smoothed + 0.25 * sample
    // Windowed minimum: the floor is re-learned every period, so a changed path is noticed.
    this.#minNext = Math.min(this.#minNext, sample)
    this.#min = Math.min(this.#min, sample)
    if (now - this.#minSince > MIN_RTT_WINDOW_MS) {
      this.#min = this.#minNext
      this.#minNext = sample
      this.#minSince = now
    }
  }
}
