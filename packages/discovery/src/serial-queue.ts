/**
 * Runs operations one after another (start, stop, join, leave of one discovery), so a stop
 * never interleaves with a half-done join. A failed operation does not block the next.
 */
export class SerialQueue {
  #tail: Promise<unknown> = Promise.resolve()

  run<T>(op: () => Promise<T>): Promise<T> {
    const next = this.#tail.then(op, op)
    this.#tail = next.catch(() => undefined)
    return next
  }
}
