import type { Logger } from '@harddrive-party/wire-protocol'
import { MDNS_SERVICE_TYPE } from '@harddrive-party/wire-protocol/internal'
import type { InstanceCache } from './mdns-record-cache'
import { asksForUs, type LocalService, serviceRecords } from './mdns-service'
import type { MdnsSocket } from './mdns-socket'

/** Smallest gap between two resolve queries for one incomplete instance. */
const RESOLVE_INTERVAL_MS = 1000
/** RFC 6762 §8.3: announce at least twice, one second apart. */
const ANNOUNCE_REPEAT_MS = 1000
/** Browse queries start this far apart after a topic change, then double. */
const FIRST_QUERY_DELAY_MS = 1000

export interface MdnsSenderOptions {
  /** TTL of our records, in seconds. */
  ttl: number
  /** Longest gap between two browse queries. */
  queryIntervalMs: number
  /** Smallest gap between two multicasts of our records. */
  minResponseIntervalMs: number
  log: Logger
  /** The socket while started. */
  socket(): MdnsSocket | undefined
  /** Our service while started. */
  service(): LocalService | undefined
  /** Whether we are in any topic (with none we neither browse nor answer). */
  hasTopics(): boolean
}

/**
 * When we send, as RFC 6762 asks: our records announced twice a second apart, answers to
 * others' queries at most once per `minResponseIntervalMs`, browse queries backing off from
 * 1 s to `queryIntervalMs`, and resolve queries for half-known instances at a bounded rate.
 */
export class MdnsSender {
  readonly #o: MdnsSenderOptions
  #lastMulticastAt = 0
  #responseTimer: NodeJS.Timeout | undefined
  #announceTimer: NodeJS.Timeout | undefined
  #queryTimer: NodeJS.Timeout | undefined
  #queryDelayMs = FIRST_QUERY_DELAY_MS
  /** Ids of our recent queries: multicast loops them back to us, and we must not answer them. */
  readonly #ownQueryIds: number[] = []

  constructor(options: MdnsSenderOptions) {
    this.#o = options
  }

  /**
   * Unsolicited announcement, sent twice (RFC 6762 §8.3), bypassing the response limit.
   * Several joins in one tick make one announcement.
   */
  announce(): void {
    clearTimeout(this.#announceTimer)
    this.#announceTimer = setTimeout(() => {
      this.#multicast(this.#o.ttl)
      this.#announceTimer = setTimeout(() => this.#multicast(this.#o.ttl), ANNOUNCE_REPEAT_MS)
    }, 0)
  }

  /** Browses again from the shortest interval (after the topics changed). */
  restartQueries(): void {
    this.#queryDelayMs = FIRST_QUERY_DELAY_MS
    this.#queryNow()
  }

  /** Answers a query that asks for our records, within the response rate limit. */
  answer(packet: { id?: number | undefined; questions?: unknown[] | undefined }): void {
    const service = this.#o.service()
    if (!service || !this.#o.hasTopics()) return
    if (packet.id !== undefined && this.#ownQueryIds.includes(packet.id)) return
    const questions = (packet.questions ?? []).slice(0, 16) as { name?: unknown; type?: unknown }[]
    const wanted = questions.some(
      (q) =>
        typeof q?.name === 'string' &&
        typeof q.type === 'string' &&
        asksForUs({ name: q.name, type: q.type }, service),
    )
    if (!wanted || this.#responseTimer) return
    // At most one multicast of our records per interval; queries in between share one answer.
    const wait = Math.max(0, this.#lastMulticastAt + this.#o.minResponseIntervalMs - Date.now())
    this.#responseTimer = setTimeout(() => {
      this.#responseTimer = undefined
      this.#multicast(this.#o.ttl)
    }, wait)
  }

  /** Asks for the records an instance is missing, at a bounded rate. */
  resolve(instance: string, cache: InstanceCache): void {
    const socket = this.#o.socket()
    const now = Date.now()
    if (!socket || now - cache.lastResolveAt < RESOLVE_INTERVAL_MS) return
    cache.lastResolveAt = now
    const questions: { name: string; type: 'SRV' | 'TXT' | 'A' }[] = []
    if (!cache.srv) questions.push({ name: instance, type: 'SRV' })
    if (!cache.txt) questions.push({ name: instance, type: 'TXT' })
    if (cache.srv) questions.push({ name: cache.srv.target, type: 'A' })
    socket.query({ id: this.#newQueryId(), questions }, () => undefined)
  }

  /** Cancels every scheduled send (on stop), so that a restart starts from a clean slate. */
  clearTimers(): void {
    clearTimeout(this.#responseTimer)
    clearTimeout(this.#announceTimer)
    clearTimeout(this.#queryTimer)
    // `answer()` reads a set timer as "an answer is pending": a cancelled one must not stay set,
    // or after a restart we would never answer a query again.
    this.#responseTimer = undefined
    this.#announceTimer = undefined
    this.#queryTimer = undefined
  }

  #multicast(ttl: number): void {
    const socket = this.#o.socket()
    const service = this.#o.service()
    if (!socket || !service) return
    this.#lastMulticastAt = Date.now()
    socket.respond({ answers: serviceRecords(service, ttl) }, (err) => {
      if (err) this.#o.log.trace('mdns send: %s', err)
    })
  }

  #queryNow(): void {
    clearTimeout(this.#queryTimer)
    const socket = this.#o.socket()
    if (!socket || !this.#o.hasTopics()) return
    socket.query(
      { id: this.#newQueryId(), questions: [{ name: MDNS_SERVICE_TYPE, type: 'PTR' }] },
      (err) => {
        if (err) this.#o.log.trace('mdns query: %s', err)
      },
    )
    const delay = this.#queryDelayMs
    this.#queryDelayMs = Math.min(this.#o.queryIntervalMs, this.#queryDelayMs * 2)
    this.#queryTimer = setTimeout(() => this.#queryNow(), delay)
  }

  /**
   * RFC 6762 asks for id 0 in queries, but receivers ignore it, so a random one lets us
   * recognise (and not answer) our own queries when they loop back.
   */
  #newQueryId(): number {
    const id = 1 + Math.floor(Math.random() * 0xfffe)
    this.#ownQueryIds.push(id)
    if (this.#ownQueryIds.length > 16) this.#ownQueryIds.shift()
    return id
  }
}
