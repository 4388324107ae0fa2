/**
 * A first-in first-out queue with O(1) `shift()`. `Array.prototype.shift` moves every element
 * once the array is large, so draining a queue a peer filled took quadratic time (issue 9.2).
 */
export class Fifo<T> {
  #items: Array<T | undefined> = []
  #head = 0

  get length(): number {
    return this.#items.length - this.#head
  }

  push(item: T): void {
    this.#items.push(item)
  }

  peek(): T | undefined {
    return this.#head < this.#items.length ? this.#items[this.#head] : undefined
  }

  /** The newest item (the one `push` added last). */
  peekLast(): T | undefined {
    return this.#head < this.#items.length ? this.#items[this.#items.length - 1] : undefined
  }

  /** Replaces the oldest item (for taking part of it). */
  replaceFirst(item: T): void {
    if (this.#head < this.#items.length) this.#items[this.#head] = item
  }

  shift(): T | undefined {
    if (this.#head >= this.#items.length) return undefined
    const item = this.#items[this.#head]
    this.#items[this.#head++] = undefined // let the item be collected
    // Compact once the dead prefix is half the array: amortised O(1) per shift.
    if (this.#head >= 1024 && this.#head * 2 >= this.#items.length) {
      this.#items = this.#items.slice(this.#head)
      this.#head = 0
    } else if (this.#head === this.#items.length) {
      this.#items.length = 0
      this.#head = 0
    }
    return item
  }

  clear(): void {
    this.#items = []
    this.#head = 0
  }

  *drain(): Generator<T> {
    for (let item = this.shift(); item !== undefined; item = this.shift()) yield item
  }
}
