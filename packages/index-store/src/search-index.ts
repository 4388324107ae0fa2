import type { Database } from 'lmdb'

/**
 * The folded names of every indexed directory's children, kept in memory so that a search
 * is a `Buffer.indexOf` per directory (memchr speed) rather than an LMDB range read per
 * directory. It is a prefilter: a hit names a directory whose children are then matched
 * exactly against the current listing.
 *
 * Map iteration order is insertion order; directory ids only grow and the map is loaded in id
 * order, so iteration is in ascending id order, which is the stable order of search results.
 */
export class SearchIndex {
  readonly #segments = new Map<number, Buffer>()
  #maxId = 0

  load(names: Database<Buffer, number>): void {
    this.#segments.clear()
    for (const { key, value } of names.getRange({})) this.#segments.set(key, value)
    this.#maxId = Math.max(0, ...[...this.#segments.keys()].slice(-1))
  }

  set(id: number, folded: Uint8Array): void {
    const buf = Buffer.from(folded.buffer, folded.byteOffset, folded.byteLength)
    if (this.#segments.has(id)) this.#segments.set(id, buf)
    else {
      // The tree registers every id when it allocates it, so ids arrive in ascending order;
      // this only guards the iteration order should that ever not hold.
      this.#segments.set(id, buf)
      this.#reorderIfNeeded(id)
    }
  }

  delete(id: number): void {
    this.#segments.delete(id)
  }

  get size(): number {
    return this.#segments.size
  }

  #reorderIfNeeded(id: number): void {
    if (id >= this.#maxId) {
      this.#maxId = id
      return
    }
    const sorted = [...this.#segments].sort((a, b) => a[0] - b[0])
    this.#segments.clear()
    for (const [k, v] of sorted) this.#segments.set(k, v)
  }

  /**
   * Directory ids (ascending, from `fromId` inclusive) whose folded child names contain
   * `word`. Synchronous and cheap per step; the caller stops when it has enough.
   */
  *candidates(word: Uint8Array, fromId = 0): Generator<number> {
    for (const [id, seg] of this.#segments) {
      if (id < fromId) continue
      if (seg.indexOf(word) !== -1) yield id
    }
  }
}
