import {
  type Announcement,
  createMdnsCapability,
  decodeMdnsRecord,
  encodeMdnsRecord,
  equalBytes,
  isIPv4,
  isWireError,
  MAX_MDNS_CAPABILITIES,
  MDNS_SERVICE_TYPE,
  type MdnsEndpoint,
  type MdnsRecord,
  matchMdnsCapabilities,
  type TopicKeys,
  validateMdnsEndpoint,
} from '@harddrive-party/wire-protocol'
import { TypedEventEmitter } from 'main-event'
import makeMdns from 'multicast-dns'
import type {
  AbortOptions,
  Discovery,
  DiscoveryEvents,
  DiscoveryStats,
  Identity,
  MdnsPeerFound,
  PeerFound,
  PeerGoneReason,
  PeersOptions,
} from './discovery'
import { StatsCounter } from './discovery-stats'
import { DiscoveryError } from './errors'
import { bytesToHex } from './hex'
import { validateIdentity } from './identity'
import { createLogger, type DiscoveryLogger } from './logger'
import {
  asksForUs,
  type LocalService,
  newServiceNames,
  readServiceRecords,
  type SeenRecords,
  serviceRecords,
} from './mdns-service'
import { ipv4, positive, udpPort } from './option-checks'
import { iteratePeers } from './peer-iterator'
import { announcementFingerprint, PeerTable } from './peer-table'
import { SerialQueue } from './serial-queue'
import { assertTopicKeys } from './topic-keys'

export interface MdnsDiscoveryOptions {
  identity: Identity
  /**
   * IPv4 address of the LAN interface: the multicast group is joined there and queries leave
   * through it. Tests use `127.0.0.1` so nothing leaves the machine.
   */
  interface: string
  /** The transport's UDP port, advertised in the SRV record and bound into capabilities. */
  port: number
  /** Address advertised in the A record and bound into capabilities. Default: `interface`. */
  host?: string
  /**
   * Socket bind address. Default `0.0.0.0`: a socket bound to the interface's unicast address
   * receives no multicast at all.
   */
  bind?: string
  /** UDP port of the mDNS group. Default 5353; tests pick a random one to stay apart. */
  mdnsPort?: number
  /** TTL of our records, and how long a silent peer stays known. Default 120. */
  recordTtlSeconds?: number
  /** Longest gap between two browse queries (after join they start at 1 s and double). Default 60_000. */
  queryIntervalMs?: number
  /** Smallest gap between two multicasts of our records (RFC 6762 §6 asks for 1 s). Default 1000. */
  minResponseIntervalMs?: number
  /** At most `MAX_MDNS_CAPABILITIES` (32). Default 32. */
  maxTopics?: number
  /** Default 256. */
  maxPeersPerTopic?: number
  logger?: DiscoveryLogger
}

export interface MdnsDiscovery extends Discovery {
  /** Our service instance name while started (`<random>._hdp._udp.local`). */
  readonly instanceName: string | undefined
}

/** Creates (does not start) discovery on the LAN through multicast DNS. */
export function createMdnsDiscovery(options: MdnsDiscoveryOptions): MdnsDiscovery {
  return new MdnsDiscoveryImpl(options)
}

/** Most peer instances and host names remembered at once. */
const MAX_INSTANCES = 256
/** Largest TTL honoured from others (seconds), so a hostile huge TTL cannot pin an entry. */
const MAX_TTL_SECONDS = 600
/** Smallest gap between two resolve queries for one incomplete instance. */
const RESOLVE_INTERVAL_MS = 1000
/** RFC 6762 §8.3: announce at least twice, one second apart. */
const ANNOUNCE_REPEAT_MS = 1000

interface InstanceCache {
  srv?: { port: number; target: string }
  txt?: Uint8Array[]
  expiresAt: number
  lastResolveAt: number
  /** What was last evaluated, to skip the HMACs when nothing changed. */
  evaluated?: string
}

type MdnsSocket = ReturnType<typeof makeMdns>

class MdnsDiscoveryImpl extends TypedEventEmitter<DiscoveryEvents> implements MdnsDiscovery {
  readonly #identity: Identity
  readonly #interface: string
  readonly #bind: string
  readonly #host: string
  readonly #port: number
  readonly #mdnsPort: number
  readonly #ttl: number
  readonly #queryIntervalMs: number
  readonly #minResponseIntervalMs: number
  readonly #maxTopics: number
  readonly #log: DiscoveryLogger
  readonly #keyHex: string
  readonly #joined = new Map<string, TopicKeys>()
  readonly #peers: PeerTable<MdnsPeerFound>
  readonly #stats = new StatsCounter()
  readonly #instances = new Map<string, InstanceCache>()
  readonly #hosts = new Map<string, { addresses: string[]; expiresAt: number }>()
  #topicsVersion = 0
  #socket: MdnsSocket | undefined
  #service: LocalService | undefined
  readonly #serial = new SerialQueue()
  #lastMulticastAt = 0
  #responseTimer: NodeJS.Timeout | undefined
  #announceTimer: NodeJS.Timeout | undefined
  #queryTimer: NodeJS.Timeout | undefined
  #sweepTimer: NodeJS.Timeout | undefined
  #queryDelayMs = 1000
  /** Ids of our recent queries: multicast loops them back to us, and we must not answer them. */
  readonly #ownQueryIds: number[] = []

  constructor(o: MdnsDiscoveryOptions) {
    super()
    this.#identity = validateIdentity(o.identity)
    this.#keyHex = bytesToHex(this.#identity.publicKey)
    this.#interface = ipv4(o.interface, 'interface')
    this.#bind = ipv4(o.bind ?? '0.0.0.0', 'bind')
    this.#host = ipv4(o.host ?? o.interface, 'host')
    this.#port = udpPort(o.port, 'port')
    this.#mdnsPort = udpPort(o.mdnsPort ?? 5353, 'mdnsPort')
    this.#ttl = positive(o.recordTtlSeconds ?? 120, 'recordTtlSeconds')
    this.#queryIntervalMs = positive(o.queryIntervalMs ?? 60_000, 'queryIntervalMs')
    if (this.#queryIntervalMs >= this.#ttl * 1000) {
      throw new DiscoveryError(
        'INVALID_OPTIONS',
        'queryIntervalMs must be shorter than recordTtlSeconds, or peers expire between queries',
      )
    }
    this.#minResponseIntervalMs = o.minResponseIntervalMs ?? 1000
    if (!(this.#minResponseIntervalMs >= 0)) {
      throw new DiscoveryError('INVALID_OPTIONS', 'minResponseIntervalMs must be >= 0')
    }
    this.#maxTopics = positive(o.maxTopics ?? MAX_MDNS_CAPABILITIES, 'maxTopics')
    if (this.#maxTopics > MAX_MDNS_CAPABILITIES) {
      throw new DiscoveryError(
        'INVALID_OPTIONS',
        `an mDNS record carries at most ${MAX_MDNS_CAPABILITIES} topics`,
      )
    }
    this.#peers = new PeerTable(positive(o.maxPeersPerTopic ?? 256, 'maxPeersPerTopic'))
    this.#log = o.logger ?? createLogger('mdns')
  }

  get instanceName(): string | undefined {
    return this.#service?.instance
  }

  get stats(): DiscoveryStats {
    return this.#stats.snapshot()
  }

  start(options: AbortOptions = {}): Promise<void> {
    return this.#serial.run(async () => {
      options.signal?.throwIfAborted()
      if (this.#socket) return
      const socket = await this.#openSocket()
      if (options.signal?.aborted) {
        socket.destroy()
        options.signal.throwIfAborted()
      }
      this.#socket = socket
      this.#service = { ...newServiceNames(), host: this.#host, port: this.#port, txt: [] }
      this.#refreshTxt()
      socket.on('query', (packet) => this.#onQuery(packet))
      socket.on('response', (packet) => this.#onResponse(packet))
      socket.on('warning', (err: NodeJS.ErrnoException) => {
        // Socket errors carry a syscall; anything else is a packet that did not decode.
        if (err.syscall === undefined) this.#stats.reject('malformed')
        else this.#log.trace('mdns socket: %s', err)
      })
      socket.on('error', (err) => this.#log.error('mdns socket: %s', err))
      this.#sweepTimer = setInterval(() => this.#expire(), 1000)
      this.#sweepTimer.unref()
      this.#log(
        'mdns on %s (port %d), advertising %s:%d',
        this.#interface,
        this.#mdnsPort,
        this.#host,
        this.#port,
      )
      if (this.#joined.size > 0) this.#onTopicsChanged()
    })
  }

  stop(): Promise<void> {
    return this.#serial.run(async () => {
      const socket = this.#socket
      const service = this.#service
      if (!socket || !service) return
      this.#socket = undefined
      this.#service = undefined
      clearTimeout(this.#responseTimer)
      clearTimeout(this.#announceTimer)
      clearTimeout(this.#queryTimer)
      clearInterval(this.#sweepTimer)
      socket.removeAllListeners('query')
      socket.removeAllListeners('response')
      // Goodbye (TTL 0) so others forget us now rather than when our records expire.
      if (this.#joined.size > 0) {
        await new Promise<void>((resolve) => {
          socket.respond({ answers: serviceRecords(service, 0) }, () => resolve())
        })
      }
      await new Promise<void>((resolve) => socket.destroy(() => resolve()))
      this.#instances.clear()
      this.#hosts.clear()
      this.#peers.clear()
    })
  }

  async join(topic: TopicKeys, options: AbortOptions = {}): Promise<void> {
    options.signal?.throwIfAborted()
    assertTopicKeys(topic)
    if (this.#joined.has(topic.publicId)) return
    if (this.#joined.size >= this.#maxTopics) {
      throw new DiscoveryError('TOO_MANY_TOPICS', `already in ${this.#maxTopics} topics`)
    }
    this.#joined.set(topic.publicId, topic)
    this.#onTopicsChanged()
  }

  async leave(topic: TopicKeys, options: AbortOptions = {}): Promise<void> {
    options.signal?.throwIfAborted()
    if (!this.#joined.delete(topic.publicId)) return
    this.#peers.dropTopic(topic.publicId)
    this.#onTopicsChanged()
  }

  async announce(options: AbortOptions = {}): Promise<void> {
    options.signal?.throwIfAborted()
    if (this.#socket) this.#announceNow()
  }

  topics(): TopicKeys[] {
    return [...this.#joined.values()]
  }

  knownPeers(topic?: TopicKeys): PeerFound[] {
    return this.#peers.entries(topic?.publicId).map((e) => e.detail)
  }

  peers(options: PeersOptions = {}): AsyncGenerator<PeerFound> {
    return iteratePeers(this, (topic) => this.knownPeers(topic), options)
  }

  async [Symbol.asyncDispose](): Promise<void> {
    await this.stop()
  }

  async #openSocket(): Promise<MdnsSocket> {
    const socket = makeMdns({
      port: this.#mdnsPort,
      interface: this.#interface,
      bind: this.#bind,
      reuseAddr: true,
      loopback: true,
    })
    const problems: Error[] = []
    const onWarning = (err: NodeJS.ErrnoException) => {
      if (err.syscall === 'addMembership' || err.syscall === 'setMulticastInterface') {
        problems.push(err)
      }
    }
    socket.on('warning', onWarning)
    try {
      await new Promise<void>((resolve, reject) => {
        socket.once('ready', resolve)
        socket.once('error', reject)
      })
      if (problems.length > 0) throw problems[0]
      return socket
    } catch (cause) {
      socket.destroy()
      throw new DiscoveryError(
        'MDNS_BIND_FAILED',
        `cannot use mDNS on ${this.#interface} (bound ${this.#bind}:${this.#mdnsPort}): ${cause}`,
        { cause },
      )
    } finally {
      socket.off('warning', onWarning)
    }
  }

  /** Capabilities are bound to our key, address and port, one per joined topic. */
  #refreshTxt(): void {
    const service = this.#service
    if (!service) return
    const endpoint: MdnsEndpoint = {
      key: this.#identity.publicKey,
      host: service.host,
      port: service.port,
    }
    const record: MdnsRecord = {
      version: 1,
      key: this.#identity.publicKey,
      capabilities: [...this.#joined.values()].map((t) => createMdnsCapability(t, endpoint)),
    }
    service.txt = encodeMdnsRecord(record)
  }

  #onTopicsChanged(): void {
    this.#topicsVersion++
    if (!this.#socket) return
    this.#refreshTxt()
    this.#announceNow()
    // A new topic may match peers we already heard (their records are cached): re-check them.
    for (const instance of this.#instances.keys()) this.#evaluate(instance)
    this.#queryDelayMs = 1000
    this.#queryNow()
  }

  /**
   * Unsolicited announcement, sent twice (RFC 6762 §8.3), bypassing the response limit.
   * Several joins in one tick make one announcement.
   */
  #announceNow(): void {
    clearTimeout(this.#announceTimer)
    this.#announceTimer = setTimeout(() => {
      this.#multicast(this.#ttl)
      this.#announceTimer = setTimeout(() => this.#multicast(this.#ttl), ANNOUNCE_REPEAT_MS)
    }, 0)
  }

  #multicast(ttl: number): void {
    const socket = this.#socket
    const service = this.#service
    if (!socket || !service) return
    this.#lastMulticastAt = Date.now()
    socket.respond({ answers: serviceRecords(service, ttl) }, (err) => {
      if (err) this.#log.trace('mdns send: %s', err)
    })
  }

  #queryNow(): void {
    clearTimeout(this.#queryTimer)
    const socket = this.#socket
    if (!socket || this.#joined.size === 0) return
    socket.query(
      { id: this.#newQueryId(), questions: [{ name: MDNS_SERVICE_TYPE, type: 'PTR' }] },
      (err) => {
        if (err) this.#log.trace('mdns query: %s', err)
      },
    )
    const delay = this.#queryDelayMs
    this.#queryDelayMs = Math.min(this.#queryIntervalMs, this.#queryDelayMs * 2)
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

  #onQuery(packet: { id?: number | undefined; questions?: unknown[] | undefined }): void {
    const service = this.#service
    if (!service || this.#joined.size === 0) return
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
    const wait = Math.max(0, this.#lastMulticastAt + this.#minResponseIntervalMs - Date.now())
    this.#responseTimer = setTimeout(() => {
      this.#responseTimer = undefined
      this.#multicast(this.#ttl)
    }, wait)
  }

  #onResponse(packet: {
    answers?: unknown[] | undefined
    additionals?: unknown[] | undefined
  }): void {
    try {
      this.#absorb(readServiceRecords(packet))
    } catch (err) {
      this.#log.error('mdns response: %s', err)
      this.#stats.reject('malformed')
    }
  }

  #absorb(seen: SeenRecords): void {
    const now = Date.now()
    for (const [name, h] of seen.hosts) {
      if (h.ttl === 0) {
        this.#hosts.delete(name)
        continue
      }
      bounded(this.#hosts, name, { addresses: h.addresses, expiresAt: now + ttlMs(h.ttl) })
    }
    for (const s of seen.instances.values()) {
      if (s.instance === this.#service?.instance) continue
      if (s.ttl === 0) {
        this.#instances.delete(s.instance)
        this.#forgetOrigin(s.instance, 'goodbye')
        continue
      }
      const cache = this.#instances.get(s.instance) ?? { expiresAt: 0, lastResolveAt: 0 }
      if (s.srv) cache.srv = s.srv
      if (s.txt) cache.txt = s.txt
      cache.expiresAt = now + ttlMs(s.ttl)
      bounded(this.#instances, s.instance, cache)
      this.#evaluate(s.instance)
    }
  }

  /** Checks one instance's records against our topics, and emits what changed. */
  #evaluate(instance: string): void {
    const cache = this.#instances.get(instance)
    if (!cache || this.#joined.size === 0) return
    const addresses = cache.srv ? this.#hosts.get(cache.srv.target)?.addresses : undefined
    if (!cache.srv || !cache.txt || !addresses || addresses.length === 0) {
      this.#resolve(instance, cache)
      return
    }
    const txtText = cache.txt.map((t) => Buffer.from(t).toString('latin1'))
    const evaluated = `${this.#topicsVersion}|${cache.srv.port}|${addresses.join(',')}|${txtText.join('\0')}`
    const now = Date.now()
    if (cache.evaluated === evaluated) {
      for (const e of this.#peers.byOrigin(instance)) {
        e.expiresAt = cache.expiresAt
        this.#stats.count('refreshed')
      }
      return
    }
    cache.evaluated = evaluated
    this.#stats.count('received')
    let record: MdnsRecord
    try {
      record = decodeMdnsRecord(cache.txt)
    } catch (err) {
      const version = isWireError(err) && err.code === 'UNSUPPORTED_VERSION'
      this.#stats.reject(version ? 'unsupported-version' : 'bad-record')
      return
    }
    if (equalBytes(record.key, this.#identity.publicKey)) {
      this.#stats.reject('own')
      return
    }
    let endpoint: MdnsEndpoint | undefined
    let matched: TopicKeys[] = []
    for (const address of addresses) {
      let candidate: MdnsEndpoint
      try {
        candidate = validateMdnsEndpoint({ key: record.key, host: address, port: cache.srv.port })
      } catch {
        continue
      }
      matched = matchMdnsCapabilities(this.#joined.values(), record.capabilities, candidate)
      if (matched.length > 0) {
        endpoint = candidate
        break
      }
    }
    const keyHex = bytesToHex(record.key)
    const stillThere = new Set(matched.map((t) => t.publicId))
    for (const e of this.#peers.byOrigin(instance)) {
      if (!stillThere.has(e.topicId) || e.keyHex !== keyHex) this.#drop(e.topicId, e.keyHex, 'left')
    }
    if (!endpoint) {
      this.#stats.reject(addresses.some((a) => isIPv4(a)) ? 'unmatched-capability' : 'bad-record')
      return
    }
    for (const topic of matched) {
      const capability = createMdnsCapability(topic, endpoint)
      const announcement: Announcement = {
        key: record.key,
        addresses: [{ host: endpoint.host, port: endpoint.port, kind: 'lan' }],
        nat: 'unknown',
        timestamp: now,
        nonce: capability,
      }
      const detail: MdnsPeerFound = { topic, announcement, via: 'mdns', proof: 'capability' }
      const result = this.#peers.upsert({
        topicId: topic.publicId,
        keyHex,
        detail,
        fingerprint: announcementFingerprint(announcement),
        timestamp: now,
        nonce: bytesToHex(capability),
        origin: instance,
        expiresAt: cache.expiresAt,
      })
      if (result === 'refreshed') {
        this.#stats.count('refreshed')
        continue
      }
      this.#stats.count('accepted')
      this.#log.trace(
        'peer %s on %s via mdns (%s)',
        keyHex.slice(0, 8),
        topic.publicId.slice(0, 8),
        result,
      )
      this.safeDispatchEvent('peer', { detail })
    }
  }

  /** Asks for the records an instance is missing, at a bounded rate. */
  #resolve(instance: string, cache: InstanceCache): void {
    const socket = this.#socket
    const now = Date.now()
    if (!socket || now - cache.lastResolveAt < RESOLVE_INTERVAL_MS) return
    cache.lastResolveAt = now
    const questions: { name: string; type: 'SRV' | 'TXT' | 'A' }[] = []
    if (!cache.srv) questions.push({ name: instance, type: 'SRV' })
    if (!cache.txt) questions.push({ name: instance, type: 'TXT' })
    if (cache.srv) questions.push({ name: cache.srv.target, type: 'A' })
    socket.query({ id: this.#newQueryId(), questions }, () => undefined)
  }

  #forgetOrigin(instance: string, reason: PeerGoneReason): void {
    for (const e of this.#peers.byOrigin(instance)) this.#drop(e.topicId, e.keyHex, reason)
  }

  #drop(topicId: string, keyHex: string, reason: PeerGoneReason): void {
    const e = this.#peers.remove(topicId, keyHex)
    if (!e) return
    this.safeDispatchEvent('gone', {
      detail: { topic: e.detail.topic, key: e.detail.announcement.key, via: 'mdns', reason },
    })
  }

  #expire(): void {
    const now = Date.now()
    for (const [name, c] of this.#instances) if (c.expiresAt <= now) this.#instances.delete(name)
    for (const [name, h] of this.#hosts) if (h.expiresAt <= now) this.#hosts.delete(name)
    for (const e of this.#peers.expire(now)) {
      this.safeDispatchEvent('gone', {
        detail: {
          topic: e.detail.topic,
          key: e.detail.announcement.key,
          via: 'mdns',
          reason: 'expired',
        },
      })
    }
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
