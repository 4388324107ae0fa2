import type { Announcement } from '@harddrive-party/wire-protocol'
import { bytesToHex } from './hex'

export interface PeerEntry<D> {
  topicId: string
  keyHex: string
  detail: D
  /** What a change is measured against: addresses, NAT, port allocation (not time or nonce). */
  fingerprint: string
  timestamp: number
  /** Hex of what makes this exact announcement unique (its nonce, or an mDNS capability). */
  nonce: string
  /** Where it came from (MQTT slot, mDNS instance); lets a cleared slot or goodbye find it. */
  origin: string
  expiresAt: number
}

export type UpsertResult = 'new' | 'changed' | 'refreshed'

/**
 * The latest verified announcement per (topic, key), with change detection and expiry.
 * Bounded per topic: when full, the entry heard from least recently makes room.
 */
export class PeerTable<D> {
  readonly #topics = new Map<string, Map<string, PeerEntry<D>>>()
  readonly #maxPerTopic: number

  constructor(maxPerTopic = 256) {
    this.#maxPerTopic = maxPerTopic
  }

  get(topicId: string, keyHex: string): PeerEntry<D> | undefined {
    return this.#topics.get(topicId)?.get(keyHex)
  }

  upsert(entry: PeerEntry<D>): UpsertResult {
    let peers = this.#topics.get(entry.topicId)
    if (!peers) {
      peers = new Map()
      this.#topics.set(entry.topicId, peers)
    }
    const old = peers.get(entry.keyHex)
    // Re-inserting keeps the map ordered by last heard, so the first entry is the one to evict.
    peers.delete(entry.keyHex)
    peers.set(entry.keyHex, entry)
    if (!old) {
      while (peers.size > this.#maxPerTopic) {
        const first = peers.keys().next().value
        if (first === undefined) break
        peers.delete(first)
      }
      return 'new'
    }
    return old.fingerprint === entry.fingerprint ? 'refreshed' : 'changed'
  }

  remove(topicId: string, keyHex: string): PeerEntry<D> | undefined {
    const peers = this.#topics.get(topicId)
    const entry = peers?.get(keyHex)
    if (entry) peers!.delete(keyHex)
    return entry
  }

  /** Entries (over all topics) that came from `origin`. */
  byOrigin(origin: string): PeerEntry<D>[] {
    const out: PeerEntry<D>[] = []
    for (const peers of this.#topics.values()) {
      for (const e of peers.values()) if (e.origin === origin) out.push(e)
    }
    return out
  }

  clear(): void {
    this.#topics.clear()
  }

  dropTopic(topicId: string): void {
    this.#topics.delete(topicId)
  }

  /** Removes and returns every entry whose `expiresAt` has passed. */
  expire(now: number): PeerEntry<D>[] {
    const out: PeerEntry<D>[] = []
    for (const peers of this.#topics.values()) {
      for (const [k, e] of peers) {
        if (e.expiresAt <= now) {
          peers.delete(k)
          out.push(e)
        }
      }
    }
    return out
  }

  entries(topicId?: string): PeerEntry<D>[] {
    if (topicId !== undefined) return [...(this.#topics.get(topicId)?.values() ?? [])]
    return [...this.#topics.values()].flatMap((m) => [...m.values()])
  }
}

/** The parts of an announcement whose change is worth an event. */
export function announcementFingerprint(a: Announcement): string {
  const addresses = a.addresses.map((x) => `${x.kind}|${x.host}|${x.port}|${x.tcp ?? ''}`)
  return `${bytesToHex(a.key)}/${a.nat}/${a.portAllocation ?? ''}/${addresses.join(',')}`
}
