import { setMaxListeners } from 'node:events'
import type { IndexWishlist, WishlistFile } from '@harddrive-party/index-store'

/** Claimed files of one request, registered with it until they are handled. */
export interface ClaimedBatch {
  files: WishlistFile[]
  abort: AbortController
  state: 'waiting' | 'running' | 'dropped'
  /** Resolves once the batch is handled (its files done, recorded or back in the queue). */
  done: Promise<void>
  settle: () => void
}

/**
 * The download loops' claimed batches, by request. A batch is registered the moment it is
 * claimed, so pause and cancel ({@link stop}) abort it even while it waits behind the batch
 * before it (a loop claims the next batch while one transfers); one that has not started is
 * dropped then, its files back in the queue.
 */
export class ClaimedBatches {
  readonly #wishlist: IndexWishlist
  readonly #byRequest = new Map<string, Set<ClaimedBatch>>()

  constructor(wishlist: IndexWishlist) {
    this.#wishlist = wishlist
  }

  async claim(peer: string, maxFiles: number, maxBytes: number): Promise<ClaimedBatch> {
    const files = await this.#wishlist.claimMany({ peer, maxFiles, maxBytes })
    const abort = new AbortController()
    // A listener per file of the batch (and a few of the transport's) on the batch's signal.
    setMaxListeners(maxFiles * 4, abort.signal)
    let settle = () => {}
    const done = new Promise<void>((resolve) => {
      settle = resolve
    })
    const batch: ClaimedBatch = { files, abort, state: 'waiting', done, settle }
    const first = files[0]
    if (first === undefined) return batch
    const set = this.#byRequest.get(first.requestId) ?? new Set()
    set.add(batch)
    this.#byRequest.set(first.requestId, set)
    abort.signal.addEventListener('abort', () => void this.drop(batch), { once: true })
    return batch
  }

  /** A batch that has not started and will not: its files go back to the queue. */
  async drop(batch: ClaimedBatch): Promise<void> {
    if (batch.state !== 'waiting') return
    batch.state = 'dropped'
    try {
      for (const f of batch.files) {
        await this.#wishlist.release(f.requestId, f.index).catch(() => undefined)
      }
    } finally {
      this.handled(batch)
    }
  }

  /** The batch's files are done, recorded or back in the queue. */
  handled(batch: ClaimedBatch): void {
    const id = batch.files[0]?.requestId
    const set = id === undefined ? undefined : this.#byRequest.get(id)
    set?.delete(batch)
    if (id !== undefined && set?.size === 0) this.#byRequest.delete(id)
    batch.settle()
  }

  /** Aborts a request's batches and waits until each is handled. */
  async stop(id: string): Promise<void> {
    const set = this.#byRequest.get(id)
    if (set === undefined) return
    const batches = [...set]
    for (const b of batches) b.abort.abort()
    await Promise.allSettled(batches.map((b) => b.done))
  }
}
