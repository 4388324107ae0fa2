/** Bytes downloaded of one file, not yet written. */
export interface PendingBytes {
  id: string
  index: number
  bytes: number
}

/**
 * Download progress held in memory between writes. It changes many times a second, so one
 * timer writes all pending values at once every `flushMs` (the wishlist's `flush`); a state
 * change of a file writes that file's pending value in its own transaction.
 */
export class PendingProgress {
  readonly #pending = new Map<string, PendingBytes>()
  readonly #flushMs: number
  readonly #onDue: () => void
  #timer: NodeJS.Timeout | undefined

  /** `onDue` runs once `flushMs` after the first value set since the last run. */
  constructor(flushMs: number, onDue: () => void) {
    this.#flushMs = flushMs
    this.#onDue = onDue
  }

  get size(): number {
    return this.#pending.size
  }

  set(id: string, index: number, bytes: number): void {
    this.#pending.set(keyOf(id, index), { id, index, bytes })
    this.#timer ??= setTimeout(() => {
      this.#timer = undefined
      this.#onDue()
    }, this.#flushMs)
    this.#timer.unref?.()
  }

  /** The pending files' keys now (a flush writes these; later ones wait for the next). */
  keys(): string[] {
    return [...this.#pending.keys()]
  }

  /** A pending value by key; undefined when a state change applied it meanwhile. */
  get(key: string): PendingBytes | undefined {
    return this.#pending.get(key)
  }

  /** Takes (removes and returns) one file's pending value. */
  take(id: string, index: number): PendingBytes | undefined {
    const key = keyOf(id, index)
    const p = this.#pending.get(key)
    if (p !== undefined) this.#pending.delete(key)
    return p
  }

  delete(key: string): void {
    this.#pending.delete(key)
  }

  /** Stops the timer (pending values stay, for a last flush). */
  stopTimer(): void {
    if (this.#timer !== undefined) clearTimeout(this.#timer)
    this.#timer = undefined
  }
}

export function keyOf(id: string, index: number): string {
  return `${id}\u0000${index}`
}
