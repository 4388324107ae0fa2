import { setTimeout as sleep } from 'node:timers/promises'

/**
 * A token bucket for bytes. `take(n)` always succeeds but may wait: the balance goes into debt
 * and the caller sleeps until the debt is paid back, so concurrent takers queue up in the order
 * they asked and the long-run rate is exact. A dozen lines did not justify a dependency (the npm
 * token-bucket packages are callback-era or unmaintained, and none takes an AbortSignal).
 */
export class TokenBucket {
  #bytesPerSecond: number
  #burstBytes: number
  #tokens: number
  #at = performance.now()

  /** `bytesPerSecond` 0 or Infinity means no limit. `burstBytes` defaults to 1/10 s of traffic. */
  constructor(bytesPerSecond: number, burstBytes = defaultBurst(bytesPerSecond)) {
    this.#bytesPerSecond = bytesPerSecond
    this.#burstBytes = burstBytes
    this.#tokens = burstBytes
  }

  /**
   * Changes the rate in place (transfers in progress hold this bucket): from the next `take`,
   * with the default burst for the new rate. A taker already sleeping finishes its sleep.
   */
  setRate(bytesPerSecond: number): void {
    this.#bytesPerSecond = bytesPerSecond
    this.#burstBytes = defaultBurst(bytesPerSecond)
    this.#tokens = Math.min(Math.max(this.#tokens, 0), this.#burstBytes)
    this.#at = performance.now()
  }

  get unlimited(): boolean {
    return this.#bytesPerSecond <= 0 || !Number.isFinite(this.#bytesPerSecond)
  }

  /** Takes `bytes` tokens; resolves when the bucket has paid for them. */
  async take(bytes: number, options: { signal?: AbortSignal } = {}): Promise<void> {
    if (this.unlimited) return
    const now = performance.now()
    this.#tokens = Math.min(
      this.#burstBytes,
      this.#tokens + ((now - this.#at) / 1000) * this.#bytesPerSecond,
    )
    this.#at = now
    this.#tokens -= bytes
    if (this.#tokens >= 0) return
    const waitMs = (-this.#tokens / this.#bytesPerSecond) * 1000
    try {
      await sleep(waitMs, undefined, options.signal ? { signal: options.signal } : {})
    } catch (err) {
      // An aborted taker sends nothing: hand its share back to the others.
      this.#tokens += bytes
      throw options.signal?.reason ?? err
    }
  }
}

function defaultBurst(bytesPerSecond: number): number {
  return Math.max(64 * 1024, Number.isFinite(bytesPerSecond) ? bytesPerSecond / 10 : 0)
}
