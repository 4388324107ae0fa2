import { createHmac, randomBytes, timingSafeEqual } from 'node:crypto'
import { COOKIE_BYTES } from './control-datagram'

export interface AdmissionOptions {
  /** Handshake attempts a source IP may start at once before the rate applies. */
  handshakeBurst: number
  /** Sustained handshake attempts per second per source IP. */
  handshakesPerSecond: number
  /** Most handshakes in progress (carrier accepted, hello not yet done) at once. */
  maxHalfOpen: number
  /** Most handshakes in progress from one source IP. */
  maxHalfOpenPerHost: number
}

export const DEFAULT_ADMISSION: AdmissionOptions = {
  handshakeBurst: 32,
  handshakesPerSecond: 8,
  maxHalfOpen: 256,
  maxHalfOpenPerHost: 16,
}

/** A handshake in progress; `release()` when it completes or fails. */
export interface HalfOpenTicket {
  release(): void
}

interface Entry {
  host: string
  evict: () => void
}

interface Bucket {
  tokens: number
  at: number
}

const MAX_TRACKED_SOURCES = 4096
const COOKIE_EPOCH_MS = 10_000

/**
 * Decides which incoming handshakes get state. Three layers, cheapest first:
 * 1. a token bucket per source IP (refused attempts get `rate-limited`);
 * 2. while many handshakes are in progress, a stateless cookie round trip (SYN-cookie style),
 *    so floods from spoofed addresses never allocate anything;
 * 3. caps on handshakes in progress, per source and overall. At a cap the oldest handshake of
 *    the busiest source is evicted, never a quiet source's, so a flood from a few addresses
 *    cannot starve an honest peer that has one handshake in flight.
 */
export class Admission {
  readonly #options: AdmissionOptions
  readonly #buckets = new Map<string, Bucket>()
  readonly #lastReply = new Map<string, number>()
  readonly #byHost = new Map<string, Set<Entry>>()
  readonly #secret = randomBytes(32)
  #count = 0

  constructor(options: Partial<AdmissionOptions> = {}) {
    this.#options = { ...DEFAULT_ADMISSION, ...options }
  }

  /** Handshakes in progress. */
  get halfOpen(): number {
    return this.#count
  }

  /** True while enough handshakes are in progress that new UDX ones must echo a cookie. */
  get wantsCookie(): boolean {
    return this.#count >= this.#options.maxHalfOpen / 2
  }

  /** Takes one token from `host`'s bucket; false means the attempt must be refused. */
  takeToken(host: string, now = performance.now()): boolean {
    let bucket = this.#buckets.get(host)
    if (bucket === undefined) {
      bucket = { tokens: this.#options.handshakeBurst, at: now }
      if (this.#buckets.size >= MAX_TRACKED_SOURCES) {
        const oldest = this.#buckets.keys().next().value
        if (oldest !== undefined) this.#buckets.delete(oldest)
      }
    } else {
      this.#buckets.delete(host) // re-inserted below: Map order is our LRU order
      const refill = ((now - bucket.at) / 1000) * this.#options.handshakesPerSecond
      bucket.tokens = Math.min(this.#options.handshakeBurst, bucket.tokens + refill)
      bucket.at = now
    }
    this.#buckets.set(host, bucket)
    if (bucket.tokens < 1) return false
    bucket.tokens -= 1
    return true
  }

  /**
   * True at most once per second per source: refusals are answered sparingly, so a flood
   * with a forged source address cannot turn us into a reflector.
   */
  mayAnswerRefusal(host: string, now = performance.now()): boolean {
    const last = this.#lastReply.get(host)
    if (last !== undefined && now - last < 1000) return false
    this.#lastReply.delete(host)
    if (this.#lastReply.size >= MAX_TRACKED_SOURCES) {
      const oldest = this.#lastReply.keys().next().value
      if (oldest !== undefined) this.#lastReply.delete(oldest)
    }
    this.#lastReply.set(host, now)
    return true
  }

  /** Registers a handshake in progress; `evict` is called if it must make room for another. */
  track(host: string, evict: () => void): HalfOpenTicket {
    let entries = this.#byHost.get(host)
    if (entries !== undefined && entries.size >= this.#options.maxHalfOpenPerHost) {
      this.#evictOldest(entries)
    }
    if (this.#count >= this.#options.maxHalfOpen) this.#evictFromBusiestHost()
    entries = this.#byHost.get(host)
    if (entries === undefined) {
      entries = new Set()
      this.#byHost.set(host, entries)
    }
    const entry: Entry = { host, evict }
    entries.add(entry)
    this.#count++
    let released = false
    return {
      release: () => {
        if (released) return
        released = true
        this.#remove(entry)
      },
    }
  }

  /** A cookie only this process can make, bound to the attempt and to the current epoch. */
  cookie(host: string, port: number, streamId: number, nonce: Uint8Array, epochOffset = 0) {
    const epoch = Math.floor(Date.now() / COOKIE_EPOCH_MS) + epochOffset
    const mac = createHmac('sha256', this.#secret)
    mac.update(`${epoch}|${host}|${port}|${streamId}|`)
    mac.update(nonce)
    return new Uint8Array(mac.digest().subarray(0, COOKIE_BYTES))
  }

  /** Accepts cookies of this epoch and the previous one (10–20 s of validity). */
  checkCookie(
    cookie: Uint8Array,
    host: string,
    port: number,
    streamId: number,
    nonce: Uint8Array,
  ): boolean {
    for (const offset of [0, -1]) {
      const want = this.cookie(host, port, streamId, nonce, offset)
      if (cookie.length === want.length && timingSafeEqual(cookie, want)) return true
    }
    return false
  }

  #evictOldest(entries: Set<Entry>): void {
    const oldest = entries.values().next().value
    if (oldest === undefined) return
    this.#remove(oldest)
    oldest.evict()
  }

  #evictFromBusiestHost(): void {
    let busiest: Set<Entry> | undefined
    for (const entries of this.#byHost.values()) {
      if (busiest === undefined || entries.size > busiest.size) busiest = entries
    }
    if (busiest !== undefined) this.#evictOldest(busiest)
  }

  #remove(entry: Entry): void {
    const entries = this.#byHost.get(entry.host)
    if (entries === undefined || !entries.delete(entry)) return
    this.#count--
    if (entries.size === 0) this.#byHost.delete(entry.host)
  }
}
