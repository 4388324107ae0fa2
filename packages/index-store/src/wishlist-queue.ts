import type { StoreDatabases } from './database'
import { isFinished, type RequestRow } from './wishlist-rows'

/** Two ranks closer than this leave no room in between: the queue is renumbered. */
const RANK_EPSILON = 1e-9

/**
 * The order of wishlist requests: the `queue` table maps `[rank, id]` to `true`, and a request
 * row keeps its own rank. Moving a request gives it a rank halfway between its new neighbours,
 * so a reorder writes one key, not the whole queue (until ranks get too close). Finished
 * requests keep their rank but do not count towards positions. Writes happen inside the
 * caller's transaction.
 */
export class WishlistQueue {
  readonly #dbs: StoreDatabases

  constructor(dbs: StoreDatabases) {
    this.#dbs = dbs
  }

  /** Ranks in queue order, with each request row. */
  *entries(): Generator<{ rank: number; row: RequestRow }> {
    for (const { key } of this.#dbs.queue.getRange({})) {
      const row = this.#dbs.requests.get(key[1]) as RequestRow | undefined
      if (row !== undefined) yield { rank: key[0], row }
    }
  }

  /** The rank that puts a request at 1-based `position` among unfinished requests. */
  rankFor(position: number | undefined, exclude?: string): number {
    let before: number | undefined
    let seen = 0
    let last = 0
    for (const { rank, row } of this.entries()) {
      last = rank
      if (row.id === exclude || isFinished(row)) continue
      seen++
      if (position !== undefined && seen === position) {
        const lo = before ?? rank - 1
        if (rank - lo < RANK_EPSILON) return this.#renumber(position, exclude)
        return (lo + rank) / 2
      }
      before = rank
    }
    return last + 1
  }

  /** Gives every request an integer rank again (inside the caller's transaction). */
  #renumber(position: number, exclude?: string): number {
    let next = 1
    let seen = 0
    let wanted = 0
    for (const { rank, row } of [...this.entries()]) {
      void this.#dbs.queue.remove([rank, row.id])
      if (row.id !== exclude && !isFinished(row)) {
        seen++
        if (seen === position) wanted = next++
      }
      const r = next++
      void this.#dbs.queue.put([r, row.id], true)
      void this.#dbs.requests.put(row.id, { ...row, rank: r })
    }
    return wanted === 0 ? next : wanted
  }

  /** 1-based position of a request among unfinished ones; undefined when it is finished. */
  positionOf(row: RequestRow): number | undefined {
    if (isFinished(row)) return undefined
    let n = 0
    for (const { row: r } of this.entries()) {
      if (isFinished(r)) continue
      n++
      if (r.id === row.id) return n
    }
    return undefined
  }

  put(rank: number, id: string): void {
    void this.#dbs.queue.put([rank, id], true)
  }

  remove(rank: number, id: string): void {
    void this.#dbs.queue.remove([rank, id])
  }
}
