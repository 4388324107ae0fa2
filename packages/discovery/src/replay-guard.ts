/**
 * Remembers accepted announcement nonces until they could no longer pass the freshness check
 * anyway, so memory is bounded by time and by `maxEntries` (oldest dropped first).
 */
export class ReplayGuard {
  readonly #seen = new Map<string, number>()
  readonly #maxEntries: number

  constructor(maxEntries = 4096) {
    this.#maxEntries = maxEntries
  }

  has(nonce: string, now: number): boolean {
    this.#prune(now)
    return this.#seen.has(nonce)
  }

  /** Records `nonce` until `expiresAt` (ms since epoch). */
  add(nonce: string, expiresAt: number, now: number): void {
    this.#prune(now)
    this.#seen.delete(nonce)
    this.#seen.set(nonce, expiresAt)
    while (this.#seen.size > this.#maxEntries) {
      const oldest = this.#seen.keys().next().value
      if (oldest === undefined) break
      this.#seen.delete(oldest)
    }
  }

  get size(): number {
    return this.#seen.size
  }

  #prune(now: number): void {
    // Insertion order is close to expiry order (one window for all), so stop at the first live one.
    for (const [nonce, expiresAt] of this.#seen) {
      if (expiresAt > now) break
      this.#seen.delete(nonce)
    }
  }
}
