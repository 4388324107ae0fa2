import type { StoreDatabases } from './database'
import type { ItemRow, RequestRow } from './wishlist-rows'
import { recordBytes } from './wishlist-transitions'

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

/** Inside the caller's transaction: applies one file's pending bytes (if any) to its rows. */
export function applyPending(
  progress: PendingProgress,
  row: RequestRow,
  index: number,
  item: ItemRow,
): void {
  const p = progress.take(row.id, index)
  if (p !== undefined) recordBytes(row, item, p.bytes)
}

/**
 * Inside the caller's transaction: writes the pending values of `keys` (one row write per
 * request). Values a state change applied meanwhile are gone and skipped; values of files that
 * no longer exist (cancelled) are dropped.
 */
export function writePending(
  dbs: StoreDatabases,
  progress: PendingProgress,
  keys: readonly string[],
): void {
  const rows = new Map<string, RequestRow>()
  const now = Date.now()
  for (const key of keys) {
    const p = progress.get(key)
    if (p === undefined) continue
    const row = rows.get(p.id) ?? (dbs.requests.get(p.id) as RequestRow | undefined)
    const item = dbs.items.get([p.id, p.index]) as ItemRow | undefined
    if (row === undefined || item === undefined) {
      progress.delete(key)
      continue
    }
    rows.set(p.id, row)
    applyPending(progress, row, p.index, item)
    item.updatedAt = now
    void dbs.items.put([p.id, p.index], item)
  }
  for (const row of rows.values()) void dbs.requests.put(row.id, row)
}
