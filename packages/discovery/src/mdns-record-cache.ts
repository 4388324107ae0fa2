import type { SeenRecords } from './mdns-service'

/** Most peer instances and host names remembered at once. */
const MAX_INSTANCES = 256
/** Largest TTL honoured from others (seconds), so a hostile huge TTL cannot pin an entry. */
const MAX_TTL_SECONDS = 600

/** What we heard of one peer's service instance so far. */
export interface InstanceCache {
  srv?: { port: number; target: string }
  txt?: Uint8Array[]
  expiresAt: number
  lastResolveAt: number
  /** What was last evaluated, to skip the HMACs when nothing changed. */
  evaluated?: string
}

export interface AbsorbHandlers {
  /** An instance said goodbye (TTL 0); its cache entry is already gone. */
  goodbye(instance: string): void
  /** An instance's records arrived (new or refreshed); its cache entry is updated. */
  heard(instance: string): void
}

/**
 * The records other peers multicast: service instances (SRV, TXT) and host addresses (A), each
 * kept until its TTL (capped) runs out. Bounded: past {@link MAX_INSTANCES} the oldest goes.
 */
export class MdnsRecordCache {
  readonly #instances = new Map<string, InstanceCache>()
  readonly #hosts = new Map<string, { addresses: string[]; expiresAt: number }>()

  instance(name: string): InstanceCache | undefined {
    return this.#instances.get(name)
  }

  addressesOf(target: string): string[] | undefined {
    return this.#hosts.get(target)?.addresses
  }

  instanceNames(): IterableIterator<string> {
    return this.#instances.keys()
  }

  /** Takes in one packet's records (except our own instance's). */
  absorb(seen: SeenRecords, ownInstance: string | undefined, on: AbsorbHandlers): void {
    const now = Date.now()
    for (const [name, h] of seen.hosts) {
      if (h.ttl === 0) {
        this.#hosts.delete(name)
        continue
      }
      bounded(this.#hosts, name, { addresses: h.addresses, expiresAt: now + ttlMs(h.ttl) })
    }
    for (const s of seen.instances.values()) {
      if (s.instance === ownInstance) continue
      if (s.ttl === 0) {
        this.#instances.delete(s.instance)
        on.goodbye(s.instance)
        continue
      }
      const cache = this.#instances.get(s.instance) ?? { expiresAt: 0, lastResolveAt: 0 }
      if (s.srv) cache.srv = s.srv
      if (s.txt) cache.txt = s.txt
      cache.expiresAt = now + ttlMs(s.ttl)
      bounded(this.#instances, s.instance, cache)
      on.heard(s.instance)
    }
  }

  expire(now: number): void {
    for (const [name, c] of this.#instances) if (c.expiresAt <= now) this.#instances.delete(name)
    for (const [name, h] of this.#hosts) if (h.expiresAt <= now) this.#hosts.delete(name)
  }

  clear(): void {
    this.#instances.clear()
    this.#hosts.clear()
  }
}

/** Inserts as newest; evicts the oldest past {@link MAX_INSTANCES}. */
function bounded<V>(map: Map<string, V>, key: string, value: V): void {
  map.delete(key)
  map.set(key, value)
  while (map.size > MAX_INSTANCES) {
    const first = map.keys().next().value
    if (first === undefined) break
    map.delete(first)
  }
}

function ttlMs(ttl: number): number {
  return Math.min(ttl, MAX_TTL_SECONDS) * 1000
}
