export interface BackoffOptions {
  /** First delay before jitter. Default 1000. */
  initialDelayMs?: number
  /** Largest delay before jitter. Default 60_000. */
  maxDelayMs?: number
  /** Source of randomness in [0, 1) (tests pin it). Default `Math.random`. */
  random?: () => number
}

/**
 * Exponential backoff with "equal jitter": half the delay is fixed, half random, so a restarted
 * broker is not hit by every client in the same millisecond, and no retry comes at once.
 */
export class Backoff {
  readonly #initial: number
  readonly #max: number
  readonly #random: () => number
  #attempt = 0

  constructor(options: BackoffOptions = {}) {
    this.#initial = options.initialDelayMs ?? 1000
    this.#max = options.maxDelayMs ?? 60_000
    this.#random = options.random ?? Math.random
    if (!(this.#initial > 0) || !(this.#max >= this.#initial)) {
      throw new TypeError('backoff needs 0 < initialDelayMs <= maxDelayMs')
    }
  }

  /** The delay before the next attempt; each call doubles the ceiling. */
  next(): number {
    const ceiling = Math.min(this.#max, this.#initial * 2 ** Math.min(this.#attempt, 30))
    this.#attempt++
    return Math.round(ceiling / 2 + (this.#random() * ceiling) / 2)
  }

  /** Failed attempts since the last success. */
  get attempts(): number {
    return this.#attempt
  }

  reset(): void {
    this.#attempt = 0
  }
}
