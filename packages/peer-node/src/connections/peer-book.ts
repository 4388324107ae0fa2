import type { Logger } from '@harddrive-party/wire-protocol'
import { isIPv4 } from '@harddrive-party/wire-protocol/internal'

/** A peer we were connected to: tried directly at its last addresses after a restart. */
export interface RememberedPeer {
  key: string
  /** `publicId`s of the topics the connections were proven under. */
  topics: string[]
  /** Last known addresses, the one that worked first. */
  addresses: Array<{ host: string; port: number }>
  lastConnectedAt: number
}

const MAX_PEERS = 256
const MAX_ADDRESSES = 8
const MAX_TOPICS = 32

/**
 * Who we were connected to, persisted in the storage directory (`peers.json`). The file is
 * hostile input like any other: entries that do not validate are dropped, sizes are capped.
 */
export class PeerBook {
  readonly #peers = new Map<string, RememberedPeer>()
  readonly #write: (value: unknown) => Promise<void>
  readonly #log: Logger
  #dirty = false
  #writing: Promise<void> = Promise.resolve()

  constructor(options: { write: (value: unknown) => Promise<void>; log: Logger }) {
    this.#write = options.write
    this.#log = options.log
  }

  load(value: unknown): void {
    this.#peers.clear()
    const list = (value as { peers?: unknown } | null | undefined)?.peers
    if (!Array.isArray(list)) return
    for (const raw of list.slice(0, MAX_PEERS)) {
      const peer = validPeer(raw)
      if (peer) this.#peers.set(peer.key, peer)
    }
  }

  list(): RememberedPeer[] {
    return [...this.#peers.values()]
  }

  get(key: string): RememberedPeer | undefined {
    return this.#peers.get(key)
  }

  remember(key: string, topic: string, addresses: Array<{ host: string; port: number }>): void {
    const old = this.#peers.get(key)
    const merged = [...addresses, ...(old?.addresses ?? [])].filter(
      (a, i, all) => all.findIndex((b) => b.host === a.host && b.port === a.port) === i,
    )
    this.#peers.delete(key) // re-insert: the map's order is least recently connected first
    this.#peers.set(key, {
      key,
      topics: [topic, ...(old?.topics ?? []).filter((t) => t !== topic)].slice(0, MAX_TOPICS),
      addresses: merged
        .filter(validAddress)
        .slice(0, MAX_ADDRESSES)
        .map((a) => ({ host: a.host, port: a.port })),
      lastConnectedAt: Date.now(),
    })
    while (this.#peers.size > MAX_PEERS) this.#peers.delete(this.#peers.keys().next().value!)
    this.#dirty = true
    void this.flush()
  }

  /** Writes the book if it changed; writes never overlap. */
  flush(): Promise<void> {
    this.#writing = this.#writing.then(async () => {
      if (!this.#dirty) return
      this.#dirty = false
      try {
        await this.#write({ version: 1, peers: this.list() })
      } catch (err) {
        this.#log.error('could not save the peer list: %s', (err as Error).message)
      }
    })
    return this.#writing
  }
}

function validPeer(raw: unknown): RememberedPeer | undefined {
  if (typeof raw !== 'object' || raw === null) return undefined
  const r = raw as Record<string, unknown>
  if (typeof r.key !== 'string' || !/^[0-9a-f]{64}$/.test(r.key)) return undefined
  const topics = Array.isArray(r.topics)
    ? r.topics.filter((t): t is string => typeof t === 'string' && /^[0-9a-f]{64}$/.test(t))
    : []
  const addresses = Array.isArray(r.addresses) ? r.addresses.filter(validAddress) : []
  if (topics.length === 0 || addresses.length === 0) return undefined
  return {
    key: r.key,
    topics: topics.slice(0, MAX_TOPICS),
    addresses: addresses.slice(0, MAX_ADDRESSES).map((a) => ({ host: a.host, port: a.port })),
    lastConnectedAt: Number.isSafeInteger(r.lastConnectedAt) ? (r.lastConnectedAt as number) : 0,
  }
}

function validAddress(a: unknown): a is { host: string; port: number } {
  if (typeof a !== 'object' || a === null) return false
  const { host, port } = a as { host?: unknown; port?: unknown }
  return (
    typeof host === 'string' &&
    isIPv4(host) &&
    typeof port === 'number' &&
    Number.isInteger(port) &&
    port > 0 &&
    port <= 65535
  )
}
