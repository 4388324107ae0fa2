import type { CreateLogger, Logger, TopicKeys } from '@harddrive-party/wire-protocol'
import {
  createMdnsCapability,
  encodeMdnsRecord,
  MAX_MDNS_CAPABILITIES,
  type MdnsEndpoint,
  type MdnsRecord,
} from '@harddrive-party/wire-protocol/internal'
import { TypedEventEmitter } from 'main-event'
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
import { defaultLogger } from './logger'
import { matchMdnsPeer, mdnsAnnouncement } from './mdns-peer-match'
import { MdnsRecordCache } from './mdns-record-cache'
import { MdnsSender } from './mdns-sender'
import {
  type LocalService,
  newServiceNames,
  readServiceRecords,
  serviceRecords,
} from './mdns-service'
import { type MdnsSocket, openMdnsSocket } from './mdns-socket'
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
  /** Logger of each component; default `debug('hdp:discovery:<component>')`. */
  logger?: CreateLogger
}

export interface MdnsDiscovery extends Discovery {
  /** Our service instance name while started (`<random>._hdp._udp.local`). */
  readonly instanceName: string | undefined
}

/** Creates (does not start) discovery on the LAN through multicast DNS. */
export function createMdnsDiscovery(options: MdnsDiscoveryOptions): MdnsDiscovery {
  return new MdnsDiscoveryImpl(options)
}

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
  readonly #log: Logger
  readonly #keyHex: string
  readonly #joined = new Map<string, TopicKeys>()
  readonly #peers: PeerTable<MdnsPeerFound>
  readonly #stats = new StatsCounter()
  readonly #cache = new MdnsRecordCache()
  readonly #sender: MdnsSender
  #topicsVersion = 0
  #socket: MdnsSocket | undefined
  #service: LocalService | undefined
  readonly #serial = new SerialQueue()
  #sweepTimer: NodeJS.Timeout | undefined

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
    this.#log = (o.logger ?? defaultLogger)('mdns')
    this.#sender = new MdnsSender({
      ttl: this.#ttl,
      queryIntervalMs: this.#queryIntervalMs,
      minResponseIntervalMs: this.#minResponseIntervalMs,
      log: this.#log,
      socket: () => this.#socket,
      service: () => this.#service,
      hasTopics: () => this.#joined.size > 0,
    })
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
      const socket = await openMdnsSocket({
        port: this.#mdnsPort,
        interface: this.#interface,
        bind: this.#bind,
      })
      if (options.signal?.aborted) {
        socket.destroy()
        options.signal.throwIfAborted()
      }
      this.#socket = socket
      this.#service = { ...newServiceNames(), host: this.#host, port: this.#port, txt: [] }
      this.#refreshTxt()
      socket.on('query', (packet) => this.#sender.answer(packet))
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
      this.#sender.clearTimers()
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
      this.#cache.clear()
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
    if (this.#socket) this.#sender.announce()
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
    this.#sender.announce()
    // A new topic may match peers we already heard (their records are cached): re-check them.
    for (const instance of this.#cache.instanceNames()) this.#evaluate(instance)
    this.#sender.restartQueries()
  }

  #onResponse(packet: {
    answers?: unknown[] | undefined
    additionals?: unknown[] | undefined
  }): void {
    try {
      this.#cache.absorb(readServiceRecords(packet), this.#service?.instance, {
        goodbye: (instance) => this.#forgetOrigin(instance, 'goodbye'),
        heard: (instance) => this.#evaluate(instance),
      })
    } catch (err) {
      this.#log.error('mdns response: %s', err)
      this.#stats.reject('malformed')
    }
  }

  /** Checks one instance's records against our topics, and emits what changed. */
  #evaluate(instance: string): void {
    const cache = this.#cache.instance(instance)
    if (!cache || this.#joined.size === 0) return
    const addresses = cache.srv ? this.#cache.addressesOf(cache.srv.target) : undefined
    if (!cache.srv || !cache.txt || !addresses || addresses.length === 0) {
      this.#sender.resolve(instance, cache)
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
    const match = matchMdnsPeer(
      cache.txt,
      addresses,
      cache.srv.port,
      this.#joined.values(),
      this.#identity.publicKey,
    )
    if (!match.ok) {
      this.#stats.reject(match.reason)
      return
    }
    const { endpoint, matched } = match
    const keyHex = bytesToHex(match.key)
    const stillThere = new Set(matched.map((t) => t.publicId))
    for (const e of this.#peers.byOrigin(instance)) {
      if (!stillThere.has(e.topicId) || e.keyHex !== keyHex) this.#drop(e.topicId, e.keyHex, 'left')
    }
    if (!endpoint) {
      this.#stats.reject(match.unmatched)
      return
    }
    for (const topic of matched) {
      const { announcement, capability } = mdnsAnnouncement(topic, match.key, endpoint, now)
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
    this.#cache.expire(now)
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
