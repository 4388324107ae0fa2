import type { CreateLogger, TopicKeys } from '@harddrive-party/wire-protocol'
import { TypedEventEmitter } from 'main-event'
import type {
  AbortOptions,
  AnnouncementInput,
  Discovery,
  DiscoveryEvents,
  DiscoveryStats,
  Identity,
  PeerFound,
  PeersOptions,
} from './discovery'
import { sumStats } from './discovery-stats'
import {
  createMdnsDiscovery,
  type MdnsDiscovery,
  type MdnsDiscoveryOptions,
} from './mdns-discovery'
import { createMqttDiscovery, type MqttDiscovery } from './mqtt-discovery'
import type { MqttDiscoveryOptions } from './mqtt-options'
import { iteratePeers } from './peer-iterator'

export interface DiscoveryOptions {
  identity: Identity
  /** Our current addresses and NAT type (MQTT announcements). */
  getAnnouncement: () => AnnouncementInput
  /** MQTT options, or `false` for none. Default `{}`: the default public broker. */
  mqtt?: Omit<MqttDiscoveryOptions, 'identity' | 'getAnnouncement'> | false
  /** mDNS options, or `false` (the default: mDNS needs `interface` and `port`). */
  mdns?: Omit<MdnsDiscoveryOptions, 'identity'> | false
  logger?: CreateLogger
}

export interface CombinedDiscovery extends Discovery {
  readonly mqtt: MqttDiscovery | undefined
  readonly mdns: MdnsDiscovery | undefined
  /** Through the MQTT half (see `MqttDiscovery.requestConnect`); false without one. */
  requestConnect(topic: TopicKeys, to: Uint8Array): Promise<boolean>
}

/**
 * MQTT and mDNS behind one {@link Discovery}. Events of both are passed on as they are (`via`
 * says which): the same peer found on both is two facts, a public and a LAN address.
 */
export function createDiscovery(options: DiscoveryOptions): CombinedDiscovery {
  return new CombinedDiscoveryImpl(options)
}

class CombinedDiscoveryImpl
  extends TypedEventEmitter<DiscoveryEvents>
  implements CombinedDiscovery
{
  readonly mqtt: MqttDiscovery | undefined
  readonly mdns: MdnsDiscovery | undefined
  readonly #parts: Discovery[]

  constructor(o: DiscoveryOptions) {
    super()
    const logger = o.logger ? { logger: o.logger } : {}
    this.mqtt =
      o.mqtt === false
        ? undefined
        : createMqttDiscovery({
            ...logger,
            ...o.mqtt,
            identity: o.identity,
            getAnnouncement: o.getAnnouncement,
          })
    this.mdns =
      o.mdns === false || o.mdns === undefined
        ? undefined
        : createMdnsDiscovery({ ...logger, ...o.mdns, identity: o.identity })
    this.#parts = [this.mqtt, this.mdns].filter((d): d is MqttDiscovery | MdnsDiscovery => !!d)
    for (const part of this.#parts) {
      part.addEventListener('peer', (e) => this.safeDispatchEvent('peer', { detail: e.detail }))
      part.addEventListener('gone', (e) => this.safeDispatchEvent('gone', { detail: e.detail }))
      part.addEventListener('status', (e) => this.safeDispatchEvent('status', { detail: e.detail }))
      part.addEventListener('connect', (e) =>
        this.safeDispatchEvent('connect', { detail: e.detail }),
      )
    }
  }

  get stats(): DiscoveryStats {
    return sumStats(this.#parts.map((p) => p.stats))
  }

  async start(options: AbortOptions = {}): Promise<void> {
    const results = await Promise.allSettled(this.#parts.map((p) => p.start(options)))
    const failed = results.find((r) => r.status === 'rejected')
    if (failed) {
      // All or nothing: a half-started discovery would look fine and find half the peers.
      await this.stop()
      throw failed.reason
    }
  }

  async stop(): Promise<void> {
    await Promise.allSettled(this.#parts.map((p) => p.stop()))
  }

  async join(topic: TopicKeys, options: AbortOptions = {}): Promise<void> {
    const done: Discovery[] = []
    try {
      for (const part of this.#parts) {
        await part.join(topic, options)
        done.push(part)
      }
    } catch (err) {
      await Promise.allSettled(done.map((p) => p.leave(topic)))
      throw err
    }
  }

  async leave(topic: TopicKeys, options: AbortOptions = {}): Promise<void> {
    options.signal?.throwIfAborted()
    await Promise.all(this.#parts.map((p) => p.leave(topic)))
  }

  async announce(options: AbortOptions = {}): Promise<void> {
    await Promise.all(this.#parts.map((p) => p.announce(options)))
  }

  async requestConnect(topic: TopicKeys, to: Uint8Array): Promise<boolean> {
    return (await this.mqtt?.requestConnect(topic, to)) ?? false
  }

  topics(): TopicKeys[] {
    return this.#parts[0]?.topics() ?? []
  }

  knownPeers(topic?: TopicKeys): PeerFound[] {
    return this.#parts.flatMap((p) => p.knownPeers(topic))
  }

  peers(options: PeersOptions = {}): AsyncGenerator<PeerFound> {
    return iteratePeers(this, (topic) => this.knownPeers(topic), options)
  }

  async [Symbol.asyncDispose](): Promise<void> {
    await this.stop()
  }
}
