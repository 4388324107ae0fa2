import type { Logger, TopicKeys } from '@harddrive-party/wire-protocol'
import {
  CONNECT_REQUEST_FORMAT,
  type ConnectRequest,
  connectInbox,
  sealConnectRequest,
} from '@harddrive-party/wire-protocol/internal'
import { TypedEventEmitter } from 'main-event'
import { checkSealedAnnouncement } from './announcement-check'
import { BrokerProbe } from './broker-probe'
import { ConnectRequestCheck } from './connect-request-check'
import type {
  AbortOptions,
  Discovery,
  DiscoveryEvents,
  DiscoveryStats,
  MqttPeerFound,
  PeerFound,
  PeersOptions,
  RejectionReason,
} from './discovery'
import { StatsCounter } from './discovery-stats'
import { createEmbeddedBroker, type EmbeddedBroker } from './embedded-broker'
import { DiscoveryError } from './errors'
import { bytesToHex } from './hex'
import { seedOf } from './identity'
import { defaultLogger } from './logger'
import {
  DEFAULT_BROKER_URL,
  type MqttDiscoveryOptions,
  type MqttSettings,
  resolveMqttOptions,
} from './mqtt-options'
import { newAnnounceSlot, parseAnnounceTopic } from './mqtt-topic'
import { MqttTopicLink } from './mqtt-topic-link'
import { sealOwnAnnouncement } from './own-announcement'
import { iteratePeers } from './peer-iterator'
import { announcementFingerprint, PeerTable } from './peer-table'
import { ReplayGuard } from './replay-guard'
import { SerialQueue } from './serial-queue'
import { assertTopicKeys } from './topic-keys'

export interface MqttDiscovery extends Discovery {
  readonly brokerUrl: string
  /** The embedded broker, when `embeddedBroker` was set. */
  readonly embeddedBroker: EmbeddedBroker | undefined
  /** Connection attempts since start, of one topic or all (a view of the backoff at work). */
  connectionAttempts(topic?: TopicKeys): number
  /**
   * Asks a member of a joined topic to start its side of a hole punch now: a signed connect
   * request with our current addresses and NAT, sealed for it, published to its inbox slot
   * (docs/protocol.md §6.2). Resolves false when the topic's connection is not online.
   */
  requestConnect(topic: TopicKeys, to: Uint8Array): Promise<boolean>
}

/** Accepted nonces remembered per topic (each lives at most `maxAnnouncementAgeMs`). */
const REPLAY_MEMORY_PER_TOPIC = 2048

/** Creates (does not start) discovery through an MQTT broker. */
export function createMqttDiscovery(options: MqttDiscoveryOptions): MqttDiscovery {
  return new MqttDiscoveryImpl(options)
}

type State = 'stopped' | 'started'

interface Joined {
  topic: TopicKeys
  link: MqttTopicLink | undefined
}

class MqttDiscoveryImpl extends TypedEventEmitter<DiscoveryEvents> implements MqttDiscovery {
  readonly #o: MqttSettings
  readonly #log: Logger
  readonly #embedded: EmbeddedBroker | undefined
  readonly #joined = new Map<string, Joined>()
  readonly #peers: PeerTable<MqttPeerFound>
  /** Per topic, dropped with it: after a leave or restart, retained messages are news again. */
  readonly #replays = new Map<string, ReplayGuard>()
  readonly #stats = new StatsCounter()
  readonly #requests = new ConnectRequestCheck()
  #state: State = 'stopped'
  readonly #serial = new SerialQueue()
  #status: 'unknown' | 'online' | 'offline' = 'unknown'
  #sweepTimer: NodeJS.Timeout | undefined
  readonly #probe = new BrokerProbe<MqttTopicLink>()

  constructor(o: MqttDiscoveryOptions) {
    super()
    this.#o = resolveMqttOptions(o)
    this.#peers = new PeerTable(this.#o.maxPeersPerTopic)
    this.#log = (o.logger ?? defaultLogger)('mqtt')
    if (o.embeddedBroker) {
      this.#embedded = createEmbeddedBroker({
        ...(o.embeddedBroker === true ? {} : o.embeddedBroker),
        logger: o.logger ?? defaultLogger,
      })
    }
  }

  get brokerUrl(): string {
    return this.#o.brokerUrl ?? this.#embedded?.url ?? DEFAULT_BROKER_URL
  }

  get embeddedBroker(): EmbeddedBroker | undefined {
    return this.#embedded
  }

  get stats(): DiscoveryStats {
    return this.#stats.snapshot()
  }

  connectionAttempts(topic?: TopicKeys): number {
    let n = 0
    for (const j of this.#joined.values()) {
      if (topic === undefined || j.topic.publicId === topic.publicId) n += j.link?.attempts ?? 0
    }
    return n
  }

  start(options: AbortOptions = {}): Promise<void> {
    return this.#serial.run(async () => {
      options.signal?.throwIfAborted()
      if (this.#state === 'started') return
      await this.#embedded?.start(options)
      this.#state = 'started'
      this.#status = 'unknown'
      for (const joined of this.#joined.values()) this.#openLink(joined)
      const sweepMs = Math.max(1000, Math.min(30_000, this.#o.maxAnnouncementAgeMs / 4))
      this.#sweepTimer = setInterval(() => this.#expire(), sweepMs)
      this.#sweepTimer.unref()
    })
  }

  stop(): Promise<void> {
    return this.#serial.run(async () => {
      if (this.#state !== 'started') return
      this.#state = 'stopped'
      clearInterval(this.#sweepTimer)
      this.#probe.clear()
      const links = [...this.#joined.values()].map((j) => {
        const link = j.link
        j.link = undefined
        return link?.stop({ clear: true })
      })
      await Promise.allSettled(links)
      this.#peers.clear()
      this.#replays.clear()
      this.#requests.forget()
      await this.#embedded?.stop()
    })
  }

  async join(topic: TopicKeys, options: AbortOptions = {}): Promise<void> {
    options.signal?.throwIfAborted()
    assertTopicKeys(topic)
    if (this.#joined.has(topic.publicId)) return
    if (this.#joined.size >= this.#o.maxTopics) {
      throw new DiscoveryError('TOO_MANY_TOPICS', `already in ${this.#o.maxTopics} topics`)
    }
    // Fail now, where the caller can see it, rather than on every re-publish.
    this.#seal(topic)
    const joined: Joined = { topic, link: undefined }
    this.#joined.set(topic.publicId, joined)
    if (this.#state === 'started') this.#openLink(joined)
  }

  async leave(topic: TopicKeys, options: AbortOptions = {}): Promise<void> {
    options.signal?.throwIfAborted()
    const joined = this.#joined.get(topic.publicId)
    if (!joined) return
    this.#joined.delete(topic.publicId)
    this.#peers.dropTopic(topic.publicId)
    this.#replays.delete(topic.publicId)
    this.#requests.forget(topic.publicId)
    const link = joined.link
    joined.link = undefined
    if (link) {
      this.#probe.forget(link)
      await link.stop({ clear: true })
    }
  }

  async announce(options: AbortOptions = {}): Promise<void> {
    options.signal?.throwIfAborted()
    const first = this.#joined.values().next().value
    if (first) this.#seal(first.topic)
    await Promise.allSettled([...this.#joined.values()].map((j) => j.link?.announce()))
  }

  topics(): TopicKeys[] {
    return [...this.#joined.values()].map((j) => j.topic)
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

  #openLink(joined: Joined): void {
    const link = new MqttTopicLink({
      brokerUrl: this.brokerUrl,
      topic: joined.topic,
      slot: newAnnounceSlot(),
      protocolVersion: this.#o.protocolVersion,
      keepaliveSeconds: this.#o.keepaliveSeconds,
      connectTimeoutMs: this.#o.connectTimeoutMs,
      announceIntervalMs: this.#o.announceIntervalMs,
      messageExpirySeconds: Math.ceil(this.#o.maxAnnouncementAgeMs / 1000),
      reconnect: this.#o.reconnect,
      clientOptions: this.#o.clientOptions,
      seal: (topic) => this.#seal(topic),
      handlers: {
        message: (l, mqttTopic, payload) => this.#onMessage(l, mqttTopic, payload),
        online: (l) => this.#onOnline(l),
        offline: (l, error) => this.#onOffline(l, error),
      },
      log: this.#log,
    })
    joined.link = link
    link.start()
  }

  #seal(topic: TopicKeys): Uint8Array {
    return sealOwnAnnouncement(this.#o.identity, this.#o.getAnnouncement, topic)
  }

  #onOnline(link: MqttTopicLink): void {
    this.#probe.online(link)
    if (this.#status === 'online') return
    this.#status = 'online'
    this.#log('connected to %s', this.brokerUrl)
    this.safeDispatchEvent('status', {
      detail: { via: 'mqtt', state: 'online', message: `connected to ${this.brokerUrl}` },
    })
  }

  #onOffline(link: MqttTopicLink, error: unknown): boolean {
    const retry = this.#probe.offline(link)
    if (this.#state !== 'started' || this.#status === 'offline') return retry
    for (const j of this.#joined.values()) if (j.link?.online) return retry
    this.#status = 'offline'
    // Said once per outage; each retry is only traced.
    const message = `MQTT broker ${this.brokerUrl} unreachable (${errorText(error)}); retrying with backoff`
    this.#log.error(message)
    this.safeDispatchEvent('status', { detail: { via: 'mqtt', state: 'offline', message, error } })
    return retry
  }

  #onMessage(link: MqttTopicLink, mqttTopic: string, payload: Uint8Array): void {
    this.#stats.count('received')
    try {
      const rejected = this.#handleMessage(link, mqttTopic, payload)
      if (rejected) this.#stats.reject(rejected)
    } catch (err) {
      // A bug here must cost one message, not the subscription.
      this.#log.error('message on %s: %s', mqttTopic, err)
      this.#stats.reject('malformed')
    }
  }

  /** Verifies one message and emits what it changed; returns why it was refused, if it was. */
  #handleMessage(
    link: MqttTopicLink,
    mqttTopic: string,
    payload: Uint8Array,
  ): RejectionReason | undefined {
    const topic = link.topic
    if (!this.#joined.has(topic.publicId)) return undefined
    const slot = parseAnnounceTopic(mqttTopic, topic.publicId)
    if (slot === undefined) return 'bad-topic'
    if (link.isOwnTopic(mqttTopic)) {
      if (payload.length === 0) link.repairOwnSlot()
      return 'own'
    }
    if (payload.length === 0) {
      this.#onSlotCleared(topic, slot)
      return undefined
    }
    const now = Date.now()
    if (payload[0] === CONNECT_REQUEST_FORMAT)
      return this.#onConnectRequest(topic, slot, payload, now)
    const checked = checkSealedAnnouncement(payload, topic, {
      ownKey: this.#o.identity.publicKey,
      now,
      maxAgeMs: this.#o.maxAnnouncementAgeMs,
      maxClockSkewMs: this.#o.maxClockSkewMs,
    })
    if (!checked.ok) return checked.reason
    const announcement = checked.announcement
    const keyHex = bytesToHex(announcement.key)
    const nonce = bytesToHex(announcement.nonce)
    const current = this.#peers.get(topic.publicId, keyHex)
    if (current?.nonce === nonce) {
      this.#stats.count('duplicates')
      return undefined
    }
    let replays = this.#replays.get(topic.publicId)
    if (!replays) {
      replays = new ReplayGuard(REPLAY_MEMORY_PER_TOPIC)
      this.#replays.set(topic.publicId, replays)
    }
    if (replays.has(nonce, now)) return 'replay'
    if (current && announcement.timestamp <= current.timestamp) return 'replay'
    replays.add(nonce, announcement.timestamp + this.#o.maxAnnouncementAgeMs, now)
    const detail: MqttPeerFound = { topic, announcement, via: 'mqtt', proof: 'signature' }
    const result = this.#peers.upsert({
      topicId: topic.publicId,
      keyHex,
      detail,
      fingerprint: announcementFingerprint(announcement),
      timestamp: announcement.timestamp,
      nonce,
      origin: slot,
      expiresAt: now + this.#o.maxAnnouncementAgeMs,
    })
    if (result === 'refreshed') {
      this.#stats.count('refreshed')
      return undefined
    }
    this.#stats.count('accepted')
    this.#log.trace('peer %s on %s (%s)', keyHex.slice(0, 8), topic.publicId.slice(0, 8), result)
    this.safeDispatchEvent('peer', { detail })
    return undefined
  }

  async requestConnect(topic: TopicKeys, to: Uint8Array): Promise<boolean> {
    const link = this.#joined.get(topic.publicId)?.link
    if (link === undefined || !link.online) return false
    const input = this.#o.getAnnouncement()
    const request: ConnectRequest = {
      from: this.#o.identity.publicKey,
      to,
      addresses: input.addresses,
      nat: input.nat,
      timestamp: Date.now(),
      nonce: crypto.getRandomValues(new Uint8Array(16)),
      ...(input.portAllocation !== undefined ? { portAllocation: input.portAllocation } : {}),
    }
    const sealed = sealConnectRequest(request, topic, seedOf(this.#o.identity))
    return link.send(connectInbox(topic, to), sealed)
  }

  /** A connect request: ours only if it is in our inbox slot; others' are not our business. */
  #onConnectRequest(
    topic: TopicKeys,
    slot: string,
    payload: Uint8Array,
    now: number,
  ): RejectionReason | undefined {
    if (slot !== connectInbox(topic, this.#o.identity.publicKey)) return undefined
    const checked = this.#requests.check(payload, topic, {
      ownKey: this.#o.identity.publicKey,
      now,
      maxClockSkewMs: this.#o.maxClockSkewMs,
    })
    if (!checked.ok) return checked.reason
    this.safeDispatchEvent('connect', { detail: { topic, request: checked.request, via: 'mqtt' } })
    return undefined
  }

  #onSlotCleared(topic: TopicKeys, slot: string): void {
    for (const entry of this.#peers.byOrigin(slot)) {
      if (entry.topicId !== topic.publicId) continue
      this.#peers.remove(entry.topicId, entry.keyHex)
      this.safeDispatchEvent('gone', {
        detail: { topic, key: entry.detail.announcement.key, via: 'mqtt', reason: 'cleared' },
      })
    }
  }

  #expire(): void {
    for (const entry of this.#peers.expire(Date.now())) {
      this.safeDispatchEvent('gone', {
        detail: {
          topic: entry.detail.topic,
          key: entry.detail.announcement.key,
          via: 'mqtt',
          reason: 'expired',
        },
      })
    }
  }
}

function errorText(error: unknown): string {
  if (error instanceof Error) return (error as NodeJS.ErrnoException).code ?? error.message
  return String(error)
}
