/** A connection that can be told to retry at once. */
export interface Retryable {
  retryNow(): void
}

/**
 * While the broker is unreachable only one link (the prober) retries, with its backoff; the
 * others wait and retry as soon as any link is back. An offline peer in 32 topics thus makes
 * one DNS lookup and one connection attempt per backoff step, not 32.
 */
export class BrokerProbe<L extends Retryable> {
  #prober: L | undefined
  readonly #waiting = new Set<L>()

  /** A link connected: the waiting ones retry now. */
  online(link: L): void {
    if (this.#prober === link) this.#prober = undefined
    const waiting = [...this.#waiting]
    this.#waiting.clear()
    for (const l of waiting) l.retryNow()
  }

  /** A link failed to connect or lost its connection: true when it should retry on its own. */
  offline(link: L): boolean {
    const retry = this.#prober === undefined || this.#prober === link
    if (retry) this.#prober = link
    else this.#waiting.add(link)
    return retry
  }

  /** A link going away hands its probing to a waiting one. */
  forget(link: L): void {
    this.#waiting.delete(link)
    if (this.#prober !== link) return
    this.#prober = undefined
    const next = this.#waiting.values().next().value
    if (next) {
      this.#waiting.delete(next)
      this.#prober = next
      next.retryNow()
    }
  }

  clear(): void {
    this.#prober = undefined
    this.#waiting.clear()
  }
}
