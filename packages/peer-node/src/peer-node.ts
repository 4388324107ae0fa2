import type { NatReport } from '@harddrive-party/holepunch'
import type { IndexStore } from '@harddrive-party/index-store'
import type { Connection } from '@harddrive-party/transport'
import type { CreateLogger } from '@harddrive-party/wire-protocol'
import { deriveTopicKeys, type TopicKeys } from '@harddrive-party/wire-protocol'
import { TypedEventEmitter } from 'main-event'
import { listPeers, peerRef } from './connections/peers'
import type { Downloads } from './downloads/download-types'
import { defaultDownloadDir } from './downloads/downloads'
import { PeerNodeError } from './errors'
import { defaultLogger } from './logger'
import { type NodeLimits, SavedLimits } from './node-limits'
import { peerName } from './peer-names'
import type { PortMappingInfo } from './port-mapping'
import type { RelayInfo } from './relay/relay-service'
import { createPeerClient, type PeerClient } from './remote/peer-client'
import { createRequestServer, type ServingLimits } from './serving/request-server'
import { defaultStorageDir } from './storage/default-storage-dir'
import { openStorage, storageLayout } from './storage/storage-dir'
import type { TurnInfo } from './turn-relays'
import type { AbortOptions, PeerInfo, PeerNode, PeerNodeEvents, PeerNodeOptions } from './types'
import { bindTransport } from './wiring/bind-transport'
import { type Running, releaseRunning } from './wiring/running'
import {
  createConnections,
  startCarrierMover,
  wireConnectionEvents,
} from './wiring/wire-connections'
import { startDiscovery, wireNatChanges } from './wiring/wire-discovery'
import { createDownloads } from './wiring/wire-downloads'
import { wireNat } from './wiring/wire-nat'

/** Creates a peer; nothing is opened or bound until `start()`. */
export function createPeerNode(options: PeerNodeOptions = {}): PeerNode {
  return new PeerNodeImpl(options)
}

/**
 * The composition root: brings the layers up in an order that works offline (storage →
 * transport on its stable port → NAT detection → discovery → persisted topics) and down in
 * reverse, and wires their events. The work itself lives in the rooms it wires.
 */
class PeerNodeImpl extends TypedEventEmitter<PeerNodeEvents> implements PeerNode {
  readonly #o: PeerNodeOptions
  readonly #log
  readonly #logger: CreateLogger
  readonly #topics = new Map<string, TopicKeys>()
  #running: Running | undefined
  #starting: Promise<void> | undefined
  #stopping: Promise<void> | undefined
  #shutdown = new AbortController()
  #rechecking = false

  constructor(options: PeerNodeOptions) {
    super()
    this.#o = options
    this.#logger = options.logger ?? defaultLogger
    this.#log = this.#logger('node')
  }

  get storage() {
    return storageLayout(this.#o.storageDir ?? defaultStorageDir())
  }

  get publicKey(): Uint8Array {
    return this.#require().storage.identity.publicKey
  }

  get name(): string {
    return peerName(this.publicKey)
  }

  get store(): IndexStore {
    return this.#require().storage.store
  }

  get downloads(): Downloads {
    return this.#require().downloads
  }

  get downloadDir(): string {
    return this.#o.downloadDir ?? defaultDownloadDir()
  }

  get nat(): NatReport {
    return this.#require().announcer.report
  }

  get relay(): RelayInfo {
    return this.#require().relay.service.info
  }

  get portMapping(): PortMappingInfo | undefined {
    return this.#require().mapper?.info
  }

  get turn(): TurnInfo | undefined {
    return this.#require().turn?.info
  }

  address() {
    return this.#require().transport.address()
  }

  async start(options: AbortOptions = {}): Promise<void> {
    if (this.#stopping) await this.#stopping
    if (this.#running) return
    this.#starting ??= this.#bringUp(options.signal).finally(() => {
      this.#starting = undefined
    })
    return this.#starting
  }

  async stop(): Promise<void> {
    if (this.#starting) await this.#starting.catch(() => {})
    const running = this.#running
    if (running === undefined) return this.#stopping
    this.#stopping ??= this.#bringDown(running).finally(() => {
      this.#running = undefined
      this.#stopping = undefined
    })
    return this.#stopping
  }

  async [Symbol.asyncDispose](): Promise<void> {
    await this.stop()
  }

  async #bringUp(signal: AbortSignal | undefined): Promise<void> {
    const o = this.#o
    const logger = this.#logger
    this.#shutdown = new AbortController()
    const storage = await openStorage(this.storage.dir, {
      logger: logger('storage'),
      indexLogger: this.#layerLogger('index-store'),
      ...(signal ? { signal } : {}),
    })
    const parts: Partial<Running> = { storage }
    try {
      signal?.throwIfAborted()
      parts.limits = await SavedLimits.load(storage.layout.limits, this.#log)
      const saved = parts.limits.split
      // Serving first: a peer that connects the moment the transport listens is answered.
      parts.server = createRequestServer({
        store: storage.store,
        logger,
        limits: { ...saved.serving, ...o.serving },
        relay: () => parts.relay?.handlers,
        peerName: (hex) =>
          parts.registry && parts.connector && parts.book
            ? peerRef(Buffer.from(hex, 'hex'), parts as Running).name
            : peerName(Buffer.from(hex, 'hex')),
      })
      await parts.server.start()
      const topics = () => this.#topics.values()
      const transportLogger = this.#layerLogger('transport')
      parts.transport = await bindTransport(storage, o, topics, this.#log, transportLogger)
      const puncherLogger = this.#layerLogger('holepunch')
      await wireNat(parts as Running, o, logger, this.#signal(signal), puncherLogger)
      const withNat = parts as Running
      Object.assign(parts, await createConnections(withNat, o, logger))
      parts.downloads = createDownloads(withNat, o, this.downloadDir, logger)
      const r = parts as Running
      wireConnectionEvents(r, { events: this, onConnection: o.onConnection, log: this.#log })
      wireNatChanges(r, this, this.#log)
      r.connector.start()
      startCarrierMover(r, o, logger)
      parts.discovery = await startDiscovery(r, o, this, signal, this.#layerLogger('discovery'))
      this.#running = r
      await this.#rejoin(r, signal)
      this.#tryRemembered(r)
      r.downloads.start()
      parts.timer = setInterval(() => void this.#recheck(), o.natRecheckMs ?? 300_000)
    } catch (err) {
      this.#running = undefined
      await this.#bringDown(parts)
      throw err
    }
  }

  async #rejoin(r: Running, signal: AbortSignal | undefined): Promise<void> {
    for (const topic of r.storage.store.topics.list()) {
      if (topic.joined) await this.#joinKeys(r, topic.name, signal)
    }
  }

  #tryRemembered(r: Running): void {
    for (const peer of r.book.list()) {
      const topic = peer.topics.map((id) => this.#topics.get(id)).find((t) => t !== undefined)
      if (topic) r.connector.tryRemembered(Buffer.from(peer.key, 'hex'), topic, peer.addresses)
    }
  }

  async #recheck(): Promise<void> {
    const r = this.#running
    if (r === undefined || this.#rechecking) return // a slow check (a router that never answers)
    this.#rechecking = true
    try {
      await this.#recheckNow(r)
    } finally {
      this.#rechecking = false
    }
  }

  async #recheckNow(r: Running): Promise<void> {
    const signal = this.#shutdown.signal
    // A router that had no mapping for us at start may have one now (rebooted, UPnP turned on):
    // a mapping that appears makes us reachable, and peers reached through a relay go direct.
    if (r.mapper !== undefined && r.mapper.info === undefined) {
      const mapping = await r.mapper.map(r.transport.address().port, signal).catch(() => undefined)
      if (mapping && this.#running === r)
        r.announcer.setMapping({ host: mapping.externalHost, port: mapping.externalPort })
    }
    await r.announcer.refresh(signal).catch(() => {})
  }

  async join(name: string, options: AbortOptions = {}): Promise<void> {
    const r = this.#require()
    await r.storage.store.topics.join(name)
    await this.#joinKeys(r, name, options.signal)
  }

  async #joinKeys(r: Running, name: string, signal: AbortSignal | undefined): Promise<void> {
    if ([...this.#topics.values()].some((t) => t.name === name)) return
    const kdf = this.#o.topicKdf ? { kdf: this.#o.topicKdf } : {}
    const keys = await deriveTopicKeys(name, { ...kdf, ...(signal ? { signal } : {}) })
    this.#topics.set(keys.publicId, keys)
    await r.discovery?.join(keys, signal ? { signal } : {})
  }

  async leave(name: string): Promise<void> {
    const r = this.#require()
    await r.storage.store.topics.leave(name)
    const keys = [...this.#topics.values()].find((t) => t.name === name)
    if (keys === undefined) return
    this.#topics.delete(keys.publicId)
    await r.discovery?.leave(keys)
    await r.connector.onLeave(keys)
  }

  topics(): string[] {
    return [...this.#topics.values()].map((t) => t.name)
  }

  peers(): PeerInfo[] {
    const r = this.#require()
    return listPeers({
      connector: r.connector,
      registry: r.registry,
      book: r.book,
      topicName: (id) => this.#topics.get(id)?.name,
    })
  }

  servingLimits(): ServingLimits {
    return this.#require().server.limits
  }

  async setLimits(changes: Partial<NodeLimits>, options: AbortOptions = {}): Promise<void> {
    options.signal?.throwIfAborted()
    const r = this.#require()
    await r.limits.change(changes, ({ serving, downloads }) => {
      r.server.setLimits(serving)
      if (Object.keys(downloads).length > 0) r.downloads.setLimits(downloads)
    })
  }

  uploads() {
    return this.#require().server.uploads()
  }

  connection(key: string | Uint8Array): Connection | undefined {
    const hex = typeof key === 'string' ? key.toLowerCase() : Buffer.from(key).toString('hex')
    return this.#running?.registry.get(hex)
  }

  client(key: string | Uint8Array): PeerClient {
    const connection = this.connection(key)
    if (connection === undefined) {
      const hex = typeof key === 'string' ? key : Buffer.from(key).toString('hex')
      throw new PeerNodeError('NOT_CONNECTED', `no live connection to peer ${hex.slice(0, 16)}`)
    }
    return createPeerClient(connection, { logger: this.#logger })
  }

  /** Reverse order; every step runs even when an earlier one failed. */
  async #bringDown(r: Partial<Running>): Promise<void> {
    this.#shutdown.abort()
    await releaseRunning(r, this.#log)
    this.#topics.clear()
  }

  /**
   * The logger a layer gets: none (its own `hdp:<package>:*` default) unless the embedder gave
   * one, which then hears the layer's components tagged with the package name.
   */
  #layerLogger(pkg: string): CreateLogger | undefined {
    const given = this.#o.logger
    return given && ((component) => given(`${pkg}:${component}`))
  }

  #signal(signal: AbortSignal | undefined): AbortSignal {
    return signal ? AbortSignal.any([signal, this.#shutdown.signal]) : this.#shutdown.signal
  }

  #require(): Running {
    if (this.#running === undefined) {
      throw new PeerNodeError('NOT_STARTED', 'the peer node is not started')
    }
    return this.#running
  }
}
