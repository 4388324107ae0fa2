import { PeerNodeError } from '../errors'

export interface UploadSlotsOptions {
  /** Reads served at once, over all peers. Default 3. */
  slots?: number
  /**
   * Slots one peer may hold at once. Default `slots - 1` (at least 1), so a peer that stops
   * reading mid-file can never hold every slot while the stall timeout runs.
   */
  maxActivePerPeer?: number
  /** Reads of one peer waiting for a slot; one more is refused with `BUSY`. Default 256. */
  maxWaitingPerPeer?: number
  /** How often waiting reads hear their new queue position. Default 1000 ms. */
  positionIntervalMs?: number
}

export interface AcquireOptions {
  signal?: AbortSignal
  /** Called with the queue position (1 = next) on entering the queue and when it changes. */
  onPosition?: (position: number) => void
}

interface Waiter {
  grant: (release: () => void) => void
  onPosition: ((position: number) => void) | undefined
  lastPosition: number
}

interface PeerQueue {
  waiters: Waiter[]
  active: number
}

/**
 * Upload slots shared fairly between peers: each peer has its own FIFO of waiting reads, and a
 * freed slot goes to the next peer in round-robin order, not to the oldest read overall, so a
 * peer with 10,000 queued reads delays a peer with one by at most one slot's turn.
 */
export class UploadSlots {
  #slots: number
  #maxActivePerPeer: number
  readonly #maxWaitingPerPeer: number
  readonly #positionIntervalMs: number
  readonly #peers = new Map<string, PeerQueue>()
  /** Peers with waiting reads, in the order they are served next. */
  #rotation: string[] = []
  #active = 0
  #positionTimer: NodeJS.Timeout | undefined

  constructor(options: UploadSlotsOptions = {}) {
    this.#slots = positiveInt(options.slots ?? 3, 'slots')
    this.#maxActivePerPeer = positiveInt(
      options.maxActivePerPeer ?? Math.max(1, this.#slots - 1),
      'maxActivePerPeer',
    )
    this.#maxWaitingPerPeer = positiveInt(options.maxWaitingPerPeer ?? 256, 'maxWaitingPerPeer')
    this.#positionIntervalMs = options.positionIntervalMs ?? 1000
  }

  /** Slots in use and reads waiting, over all peers. */
  stats(): { active: number; waiting: number } {
    let waiting = 0
    for (const q of this.#peers.values()) waiting += q.waiters.length
    return { active: this.#active, waiting }
  }

  /**
   * A slot for `peer` now, or `undefined` when it would have to wait (nobody is queued ahead):
   * a read that gets one needs no abort wiring for a wait.
   */
  tryAcquire(peer: string): (() => void) | undefined {
    const queue = this.#queueOf(peer)
    if (queue.waiters.length === 0 && this.#canGrant(queue)) return this.#take(peer, queue)
    this.#forgetIfIdle(peer, queue)
    return undefined
  }

  /**
   * Waits for a slot for `peer`; resolves with the function that gives it back (call it once,
   * in a `finally`). Throws `BUSY` at once when `peer` already has the most reads waiting.
   */
  acquire(peer: string, options: AcquireOptions = {}): Promise<() => void> {
    options.signal?.throwIfAborted()
    const queue = this.#queueOf(peer)
    if (queue.waiters.length === 0 && this.#canGrant(queue)) {
      return Promise.resolve(this.#take(peer, queue))
    }
    if (queue.waiters.length >= this.#maxWaitingPerPeer) {
      this.#forgetIfIdle(peer, queue)
      return Promise.reject(
        new PeerNodeError(
          'BUSY',
          `${queue.waiters.length} reads of this peer already wait for an upload slot (limit ${this.#maxWaitingPerPeer})`,
        ),
      )
    }
    return new Promise((resolve, reject) => {
      const { signal } = options
      const waiter: Waiter = {
        grant: (release) => {
          signal?.removeEventListener('abort', onAbort)
          resolve(release)
        },
        onPosition: options.onPosition,
        lastPosition: 0,
      }
      const onAbort = () => {
        const at = queue.waiters.indexOf(waiter)
        if (at !== -1) queue.waiters.splice(at, 1)
        if (queue.waiters.length === 0) this.#rotation = this.#rotation.filter((p) => p !== peer)
        this.#forgetIfIdle(peer, queue)
        this.#positionsChanged()
        reject(signal?.reason)
      }
      signal?.addEventListener('abort', onAbort, { once: true })
      if (queue.waiters.length === 0) this.#rotation.push(peer)
      queue.waiters.push(waiter)
      this.#grantFree()
      if (queue.waiters.includes(waiter)) {
        waiter.lastPosition = this.#positionOf(peer, queue.waiters.length - 1)
        waiter.onPosition?.(waiter.lastPosition)
        this.#positionsChanged() // a newcomer can move others back (it may be ahead in the rotation)
      }
    })
  }

  /**
   * Changes the number of slots (and the per-peer share) while serving: more slots go to
   * waiting reads at once; with fewer, reads in progress finish and no new one starts until
   * the active count is under the new number.
   */
  resize(slots: number, maxActivePerPeer = Math.max(1, slots - 1)): void {
    this.#slots = positiveInt(slots, 'slots')
    this.#maxActivePerPeer = positiveInt(maxActivePerPeer, 'maxActivePerPeer')
    this.#grantFree()
  }

  /** Stops the position timer (waiting reads are ended by their own signals). */
  close(): void {
    clearTimeout(this.#positionTimer)
    this.#positionTimer = undefined
  }

  #queueOf(peer: string): PeerQueue {
    let queue = this.#peers.get(peer)
    if (queue === undefined) {
      queue = { waiters: [], active: 0 }
      this.#peers.set(peer, queue)
    }
    return queue
  }

  #forgetIfIdle(peer: string, queue: PeerQueue): void {
    if (queue.active === 0 && queue.waiters.length === 0) this.#peers.delete(peer)
  }

  #canGrant(queue: PeerQueue): boolean {
    return this.#active < this.#slots && queue.active < this.#maxActivePerPeer
  }

  #take(peer: string, queue: PeerQueue): () => void {
    this.#active++
    queue.active++
    let released = false
    return () => {
      if (released) return
      released = true
      this.#active--
      queue.active--
      this.#forgetIfIdle(peer, queue)
      this.#grantFree()
    }
  }

  /** Hands free slots to waiting reads, one peer at a time in rotation order. */
  #grantFree(): void {
    let granted = false
    while (this.#active < this.#slots) {
      const at = this.#rotation.findIndex((p) => this.#canGrant(this.#peers.get(p) as PeerQueue))
      if (at === -1) break
      const peer = this.#rotation[at] as string
      const queue = this.#peers.get(peer) as PeerQueue
      const waiter = queue.waiters.shift() as Waiter
      this.#rotation.splice(at, 1)
      if (queue.waiters.length > 0) this.#rotation.push(peer)
      waiter.grant(this.#take(peer, queue))
      granted = true
    }
    if (granted) this.#positionsChanged()
  }

  /**
   * Where waiter `index` of `peer` stands if nobody else arrives: round-robin serves one read
   * per peer per round, so before it come `index` rounds of every peer, plus one more read of
   * each peer ahead of `peer` in the rotation.
   */
  #positionOf(peer: string, index: number): number {
    const rank = this.#rotation.indexOf(peer)
    let before = index
    this.#rotation.forEach((other, r) => {
      if (other === peer) return
      const waiting = this.#peers.get(other)?.waiters.length ?? 0
      before += Math.min(waiting, index + (r < rank ? 1 : 0))
    })
    return before + 1
  }

  /** Positions are sent at most once per interval: a grant moves every waiter up by one. */
  #positionsChanged(): void {
    if (this.#positionTimer !== undefined) return
    this.#positionTimer = setTimeout(() => {
      this.#positionTimer = undefined
      for (const peer of this.#rotation) {
        const queue = this.#peers.get(peer) as PeerQueue
        queue.waiters.forEach((waiter, i) => {
          if (waiter.onPosition === undefined) return
          const position = this.#positionOf(peer, i)
          if (position === waiter.lastPosition) return
          waiter.lastPosition = position
          waiter.onPosition(position)
        })
      }
    }, this.#positionIntervalMs)
    this.#positionTimer.unref()
  }
}

function positiveInt(value: number, name: string): number {
  if (!Number.isInteger(value) || value < 1) {
    throw new PeerNodeError('INVALID_OPTIONS', `${name} must be a positive integer, got ${value}`)
  }
  return value
}
