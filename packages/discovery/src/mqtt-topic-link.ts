import type { Logger, TopicKeys } from '@harddrive-party/wire-protocol'
import { connect, type IClientOptions, type MqttClient } from 'mqtt'
import { Backoff, type BackoffOptions } from './backoff'
import { announceTopic, randomClientId, topicFilter } from './mqtt-topic'

export interface TopicLinkHandlers {
  message(link: MqttTopicLink, mqttTopic: string, payload: Uint8Array): void
  online(link: MqttTopicLink): void
  /**
   * A connection attempt failed or a live connection was lost. Returns whether this link
   * should retry on its own backoff (else it waits for {@link MqttTopicLink.retryNow}).
   */
  offline(link: MqttTopicLink, error: unknown, wasOnline: boolean): boolean
}

export interface TopicLinkOptions {
  brokerUrl: string
  topic: TopicKeys
  /** Our announce slot on this topic for this session. */
  slot: string
  protocolVersion: 4 | 5
  keepaliveSeconds: number
  connectTimeoutMs: number
  announceIntervalMs: number
  /** MQTT 5 only: the broker drops our retained announcement after this long. */
  messageExpirySeconds: number
  reconnect: BackoffOptions
  /** Extra client options (TLS trust, credentials). */
  clientOptions: IClientOptions
  /** A freshly signed and sealed announcement; throws if ours cannot be made. */
  seal(topic: TopicKeys): Uint8Array
  handlers: TopicLinkHandlers
  log: Logger
}

/** How long a graceful leave waits for the broker before dropping the connection. */
const LEAVE_TIMEOUT_MS = 2000
/** Smallest gap between two re-publishes caused by someone clearing our slot. */
const MIN_REPAIR_INTERVAL_MS = 2000
const EMPTY = new Uint8Array(0)

/**
 * One MQTT connection for one topic. A connection per topic costs little and is what keeps the
 * broker from linking our topics: each has its own random client id, and its own last will,
 * which can clear only one retained message (our slot on this topic).
 */
export class MqttTopicLink {
  readonly topic: TopicKeys
  readonly slot: string
  readonly #o: TopicLinkOptions
  readonly #backoff: Backoff
  readonly #announceTopic: string
  #client: MqttClient | undefined
  #online = false
  #stopped = true
  #retryTimer: NodeJS.Timeout | undefined
  #announceTimer: NodeJS.Timeout | undefined
  #lastRepair = 0
  /** Connection attempts since creation (tests read it to see the backoff at work). */
  attempts = 0

  constructor(options: TopicLinkOptions) {
    this.#o = options
    this.topic = options.topic
    this.slot = options.slot
    this.#backoff = new Backoff(options.reconnect)
    this.#announceTopic = announceTopic(options.topic.publicId, options.slot)
  }

  get online(): boolean {
    return this.#online
  }

  start(): void {
    if (!this.#stopped) return
    this.#stopped = false
    this.#connect()
  }

  /** Connects now if this link is waiting (not connected, not connecting, not stopped). */
  retryNow(): void {
    if (this.#stopped || this.#client) return
    clearTimeout(this.#retryTimer)
    this.#connect()
  }

  /** Publishes a fresh announcement now if connected; otherwise the next connect will. */
  async announce(): Promise<void> {
    const client = this.#client
    if (!client || !this.#online) return
    await this.#publishAnnouncement(client)
  }

  /** Publishes one message (not retained) on another slot of this topic; false when offline. */
  async send(slot: string, payload: Uint8Array): Promise<boolean> {
    const client = this.#client
    if (!client || !this.#online) return false
    await client.publishAsync(announceTopic(this.topic.publicId, slot), Buffer.from(payload), {
      qos: 1,
      retain: false,
    })
    return true
  }

  /**
   * Stops for good. With `clear`, first replaces our retained announcement with an empty one
   * (a graceful DISCONNECT does not fire the last will, so nobody else would clear it).
   */
  async stop(options: { clear: boolean }): Promise<void> {
    if (this.#stopped) return
    this.#stopped = true
    clearTimeout(this.#retryTimer)
    clearTimeout(this.#announceTimer)
    const client = this.#client
    this.#client = undefined
    const wasOnline = this.#online
    this.#online = false
    if (!client) return
    if (wasOnline && options.clear) {
      await withTimeout(
        client.publishAsync(this.#announceTopic, Buffer.from(EMPTY), { qos: 1, retain: true }),
        LEAVE_TIMEOUT_MS,
      ).catch((err: unknown) => this.#o.log.trace('clear on leave failed: %s', err))
      await withTimeout(client.endAsync(false), LEAVE_TIMEOUT_MS).catch(() => undefined)
    }
    client.end(true)
  }

  #connect(): void {
    if (this.#stopped) return
    this.attempts++
    const o = this.#o
    const options: IClientOptions = {
      ...o.clientOptions,
      clientId: randomClientId(),
      protocolVersion: o.protocolVersion,
      clean: true,
      keepalive: o.keepaliveSeconds,
      connectTimeout: o.connectTimeoutMs,
      // We reconnect ourselves, with backoff and a fresh client (and client id) each time.
      reconnectPeriod: 0,
      resubscribe: false,
      queueQoSZero: false,
      will: { topic: this.#announceTopic, payload: Buffer.from(EMPTY), qos: 1, retain: true },
    }
    const client = connect(o.brokerUrl, options)
    this.#client = client
    let lastError: unknown
    let wasOnline = false
    let closed = false
    client.on('error', (err) => {
      lastError = err
    })
    client.on('connect', () => {
      if (this.#client !== client) return
      wasOnline = true
      this.#online = true
      this.#backoff.reset()
      o.handlers.online(this)
      void this.#onConnected(client)
    })
    client.on('message', (mqttTopic, payload) => {
      if (this.#client !== client) return
      o.handlers.message(this, mqttTopic, payload)
    })
    client.on('close', () => {
      if (closed) return
      closed = true
      clearTimeout(this.#announceTimer)
      client.end(true)
      if (this.#client !== client) return
      this.#client = undefined
      this.#online = false
      const retry = o.handlers.offline(this, lastError ?? new Error('connection closed'), wasOnline)
      if (this.#stopped || !retry) return
      const delay = this.#backoff.next()
      o.log.trace('%s: reconnecting in %d ms', this.topic.publicId.slice(0, 8), delay)
      this.#retryTimer = setTimeout(() => this.#connect(), delay)
    })
  }

  async #onConnected(client: MqttClient): Promise<void> {
    const o = this.#o
    const subscribed = client
      .subscribeAsync(topicFilter(this.topic.publicId), {
        qos: 1,
        // MQTT 5 can spare us our own messages; 3.1.1 cannot, so they are filtered on arrival.
        ...(o.protocolVersion === 5 ? { nl: true } : {}),
      })
      .then((granted) => {
        if (granted.some((g) => g.qos === 128)) {
          throw new Error(`broker refused the subscription to ${topicFilter(this.topic.publicId)}`)
        }
      })
    const published = this.#publishAnnouncement(client)
    try {
      await Promise.all([subscribed, published])
    } catch (err) {
      if (this.#client !== client) return
      o.log.error('topic %s: %s', this.topic.publicId.slice(0, 8), err)
      // Start over with backoff, as for any other failed connection.
      client.stream?.destroy()
    }
  }

  async #publishAnnouncement(client: MqttClient): Promise<void> {
    clearTimeout(this.#announceTimer)
    // Jitter keeps the re-publishes of our different topics apart, so their timing cannot be
    // used to tell that they come from one peer.
    const jitter = 0.8 + Math.random() * 0.4
    this.#announceTimer = setTimeout(() => {
      void this.#publishAnnouncement(client).catch(() => undefined)
    }, this.#o.announceIntervalMs * jitter)
    let payload: Uint8Array
    try {
      payload = this.#o.seal(this.topic)
    } catch (err) {
      this.#o.log.error('cannot make our announcement: %s', err)
      return
    }
    await client.publishAsync(this.#announceTopic, Buffer.from(payload), {
      qos: 1,
      retain: true,
      ...(this.#o.protocolVersion === 5
        ? { properties: { messageExpiryInterval: this.#o.messageExpirySeconds } }
        : {}),
    })
  }

  /**
   * Someone emptied our slot: a stale last will of our previous connection arriving after we
   * reconnected, or anyone on an open broker. Put the announcement back, at a bounded rate.
   */
  repairOwnSlot(): void {
    const now = Date.now()
    if (now - this.#lastRepair < MIN_REPAIR_INTERVAL_MS) return
    this.#lastRepair = now
    void this.announce().catch(() => undefined)
  }

  isOwnTopic(mqttTopic: string): boolean {
    return mqttTopic === this.#announceTopic
  }
}

function withTimeout<T>(promise: Promise<T>, ms: number): Promise<T> {
  let timer: NodeJS.Timeout | undefined
  return Promise.race([
    promise,
    new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new Error(`timed out after ${ms} ms`)), ms)
    }),
  ]).finally(() => clearTimeout(timer))
}
