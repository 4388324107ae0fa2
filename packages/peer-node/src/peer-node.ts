import { type CombinedDiscovery, createDiscovery } from '@harddrive-party/discovery'
import {
  createHolePuncher,
  DEFAULT_STUN_SERVERS,
  type HolePuncher,
  type NatReport,
} from '@harddrive-party/holepunch'
import type { IndexStore } from '@harddrive-party/index-store'
import { type Connection, createTransport, type Transport } from '@harddrive-party/transport'
import type { CreateLogger } from '@harddrive-party/wire-protocol'
import { deriveTopicKeys, type TopicKeys } from '@harddrive-party/wire-protocol'
import { TypedEventEmitter } from 'main-event'
import { Announcer } from './announcer'
import { ConnectionRegistry } from './connections/connection-registry'
import { Connector } from './connections/connector'
import { PeerBook } from './connections/peer-book'
import { listPeers, peerRef } from './connections/peers'
import type { Downloads } from './downloads/download-types'
import { DownloadsImpl, defaultDownloadDir } from './downloads/downloads'
import { describeError, PeerNodeError } from './errors'
import { defaultLogger } from './logger'
import { peerName } from './peer-names'
import { PortMapper, type PortMappingInfo } from './port-mapping'
import { RelayRoom } from './relay/relay-room'
import type { RelayInfo } from './relay/relay-service'
import { createPeerClient, type PeerClient } from './remote/peer-client'
import {
  createRequestServer,
  type RequestServer,
  type ServingLimits,
} from './serving/request-server'
import { defaultStorageDir, openStorage, type Storage, storageLayout } from './storage/storage-dir'
import type { AbortOptions, PeerInfo, PeerNode, PeerNodeEvents, PeerNodeOptions } from './types'

/** Creates a peer; nothing is opened or bound until `start()`. */
export function createPeerNode(options: PeerNodeOptions = {}): PeerNode {
  return new PeerNodeImpl(options)
}

/** What a started node holds; stop() releases it in reverse order. */
interface Running {
  storage: Storage
  server: RequestServer
  transport: Transport
  puncher: HolePuncher
  announcer: Announcer
  mapper: PortMapper | undefined
  relay: RelayRoom
  registry: ConnectionRegistry
  connector: Connector
  book: PeerBook
  downloads: DownloadsImpl
  discovery: CombinedDiscovery | undefined
  timer: NodeJS.Timeout | undefined
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

  constructor(options: PeerNodeOptions) {
    super()
    this.#o = options
    this.#log = (options.logger ?? defaultLogger)('node')
    this.#logger = options.logger ?? defaultLogger
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
    const logger = o.logger ?? defaultLogger
    this.#shutdown = new AbortController()
    const storage = await openStorage(this.storage.dir, {
      logger: logger('storage'),
      ...(signal ? { signal } : {}),
    })
    const parts: Partial<Running> = { storage }
    try {
      signal?.throwIfAborted()
      // Serving first: a peer that connects the moment the transport listens is answered.
      const server = createRequestServer({
        store: storage.store,
        logger,
        ...(o.serving ? { limits: o.serving } : {}),
        relay: () => parts.relay?.handlers,
      })
      await server.start()
      parts.server = server
      const transport = await this.#bindTransport(storage)
      parts.transport = transport
      const puncher = createHolePuncher({
        socket: transport.socket,
        createSocket: (opts) => transport.createSocket(opts),
        ...(o.stunServers ? { stunServers: o.stunServers } : {}),
      })
      await puncher.start()
      parts.puncher = puncher
      const announcer = new Announcer({
        puncher,
        address: () => transport.address(),
        stunServers: o.stunServers ?? DEFAULT_STUN_SERVERS,
        natTimeoutMs: o.natTimeoutMs ?? 10_000,
        lanAddresses: o.lanAddresses,
        relay: o.relay?.enabled === true,
        log: logger('nat'),
      })
      parts.announcer = announcer
      if (o.portMapping) {
        const mapper = new PortMapper(o.portMapping, logger('port-mapping'))
        parts.mapper = mapper
        const mapping = await mapper.map(transport.address().port, this.#signal(signal))
        if (mapping)
          announcer.setMapping({ host: mapping.externalHost, port: mapping.externalPort })
      }
      await announcer.refresh(this.#signal(signal))
      const registry = new ConnectionRegistry(transport.publicKey, logger('connections'))
      const relay: RelayRoom = new RelayRoom({
        options: o.relay,
        transport,
        registry,
        announced: () => connector.announced(),
        logger,
      })
      const book = new PeerBook({ write: (v) => storage.writePeers(v), log: logger('peers') })
      book.load(await storage.readPeers().catch(() => undefined))
      const connector = new Connector({
        transport,
        puncher,
        registry,
        publicKey: transport.publicKey,
        localNat: () => announcer.localNat(),
        hasIpv6: () => announcer.hasIpv6,
        log: logger('connector'),
        ...connectOptions(o),
        // Discovery starts after the connector; attempts begin only once it is there.
        requestConnect: (topic, key) =>
          parts.discovery?.requestConnect(topic, key) ?? Promise.resolve(false),
        relayDial: (key, topic, signal): Promise<Connection> => relay.dial(key, topic, signal),
      })
      const downloads = new DownloadsImpl({
        wishlist: storage.store.wishlist,
        downloadDir: this.downloadDir,
        client: (hex) => this.#clientOf(registry, hex),
        peerName: (hex) => peerRef(Buffer.from(hex, 'hex'), { connector, registry, book }).name,
        options: o.downloads ?? {},
        log: logger('downloads'),
      })
      Object.assign(parts, { registry, book, connector, downloads, relay })
      this.#wire(parts as Running)
      connector.start()
      parts.discovery = await this.#startDiscovery(parts as Running, signal)
      this.#running = parts as Running
      await this.#rejoin(parts as Running, signal)
      this.#tryRemembered(parts as Running)
      downloads.start()
      parts.timer = setInterval(() => void this.#recheck(), o.natRecheckMs ?? 300_000)
    } catch (err) {
      this.#running = undefined
      await this.#bringDown(parts)
      throw err
    }
  }

  async #bindTransport(storage: Storage): Promise<Transport> {
    const o = this.#o
    // Dual-stack by default (IPv4 peers arrive as plain IPv4 on UDX); a machine without IPv6
    // cannot bind `::`, and then binds IPv4 only.
    let host = o.host ?? '::'
    const make = (port: number) =>
      createTransport({
        identity: storage.identity,
        topics: () => this.#topics.values(),
        port,
        host,
        ...(o.agent ? { agent: o.agent } : {}),
        ...o.transport,
      })
    const wanted = o.port ?? storage.settings.port
    let transport = make(wanted)
    try {
      try {
        await transport.start()
      } catch (err) {
        if (o.host !== undefined) throw err
        this.#log('cannot bind [::]:%d (%s); binding IPv4 only', wanted, describeError(err))
        host = '0.0.0.0'
        transport = make(wanted)
        await transport.start()
      }
    } catch (err) {
      // The saved port is taken (by another program): a new one beats not starting at all.
      if (o.port !== undefined || wanted === 0) throw err
      this.#log.error('port %d is taken (%s); choosing another', wanted, describeError(err))
      transport = make(0)
      await transport.start()
    }
    await storage.savePort(transport.address().port)
    return transport
  }

  #wire(r: Running): void {
    const parts = { connector: r.connector, registry: r.registry, book: r.book }
    r.transport.addEventListener('connection', ({ detail }) => r.registry.add(detail))
    r.registry.addEventListener('live', ({ detail }) => {
      const { connection } = detail
      const peer = peerRef(detail.key, parts)
      // Remembered for the next start: the address we reached (an accepted connection's source
      // port may be ephemeral), then what the peer announced.
      const found = r.connector.announced().get(peer.hex) ?? []
      const announced = found.flatMap((f) => f.announcement.addresses.filter((a) => a.port > 0))
      // A relayed connection's address is the relay's: nothing to dial the peer at next time.
      const dialled =
        connection.initiator && connection.carrier !== 'relay' ? [connection.remoteAddress] : []
      r.book.remember(peer.hex, connection.topic.publicId, [...dialled, ...announced])
      const replaced = detail.replaced !== undefined
      this.safeDispatchEvent('peer:connect', {
        detail: { peer, connection: detail.connection, replaced },
      })
      r.downloads.peerChanged()
      void r.server.serve(connection).catch((err: unknown) => {
        this.#log.error('serving %s ended: %s', peer.name, describeError(err))
      })
      try {
        this.#o.onConnection?.(peer, detail.connection)
      } catch (err) {
        this.#log.error('onConnection hook threw: %s', describeError(err))
      }
    })
    r.registry.addEventListener('gone', ({ detail }) => {
      const peer = peerRef(detail.key, parts)
      this.safeDispatchEvent('peer:disconnect', { detail: { peer, reason: detail.reason } })
      r.downloads.peerChanged()
    })
    r.announcer.addEventListener('change', ({ detail }) => {
      this.safeDispatchEvent('nat', { detail })
      void r.discovery?.announce().catch((err: unknown) => {
        this.#log.error('re-announce failed: %s', describeError(err))
      })
    })
  }

  async #startDiscovery(r: Running, signal: AbortSignal | undefined) {
    const o = this.#o
    const mqtt = o.mqtt === false ? false : (o.mqtt ?? {})
    const mdns = o.mdns ? { ...o.mdns, port: r.transport.address().port } : false
    if (mqtt === false && mdns === false) return undefined
    const discovery = createDiscovery({
      identity: r.storage.identity,
      getAnnouncement: () => r.announcer.announcement(),
      mqtt,
      mdns,
    })
    discovery.addEventListener('peer', ({ detail }) => r.connector.onPeer(detail))
    discovery.addEventListener('gone', ({ detail }) => r.connector.onGone(detail))
    discovery.addEventListener('connect', ({ detail }) => r.connector.onConnectRequest(detail))
    discovery.addEventListener('status', ({ detail }) =>
      this.safeDispatchEvent('discovery:status', { detail }),
    )
    await discovery.start(signal ? { signal } : {})
    return discovery
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
    if (r === undefined) return
    await r.announcer.refresh(this.#shutdown.signal).catch(() => {})
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

  connection(key: string | Uint8Array): Connection | undefined {
    const hex = typeof key === 'string' ? key.toLowerCase() : Buffer.from(key).toString('hex')
    return this.#running?.registry.get(hex)
  }

  /** One client per live connection (a reconnect makes a new one). */
  readonly #clients = new WeakMap<Connection, PeerClient>()

  #clientOf(registry: ConnectionRegistry, hex: string): PeerClient | undefined {
    const connection = registry.get(hex)
    if (connection === undefined) return undefined
    let client = this.#clients.get(connection)
    if (client === undefined) {
      client = createPeerClient(connection, { logger: this.#logger })
      this.#clients.set(connection, client)
    }
    return client
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
    if (r.timer) clearInterval(r.timer)
    const step = async (what: string, work: (() => Promise<unknown>) | undefined) => {
      try {
        await work?.()
      } catch (err) {
        this.#log.error('stop: %s failed: %s', what, describeError(err))
      }
    }
    await step('downloads', r.downloads && (() => r.downloads!.stop()))
    await step('discovery', r.discovery && (() => r.discovery!.stop()))
    await step('connector', r.connector && (() => r.connector!.stop()))
    r.relay?.stop()
    await step('serving', r.server && (() => r.server!.stop()))
    await step('peer book', r.book && (() => r.book!.flush()))
    await step('connections', r.registry && (() => r.registry!.closeAll()))
    await step('port mapping', r.mapper && (() => r.mapper!.stop()))
    await step('puncher', r.puncher && (() => r.puncher!.stop()))
    await step('transport', r.transport && (() => r.transport!.stop()))
    await step('storage', r.storage && (() => r.storage!.close()))
    this.#topics.clear()
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

function connectOptions(o: PeerNodeOptions) {
  const c = o.connect ?? {}
  return {
    ...(c.directTimeoutMs !== undefined ? { directTimeoutMs: c.directTimeoutMs } : {}),
    ...(c.acceptWaitMs !== undefined ? { acceptWaitMs: c.acceptWaitMs } : {}),
    ...(c.backoffMs !== undefined ? { backoffMs: c.backoffMs } : {}),
    ...(c.punchTimeoutMs !== undefined ? { punchOptions: { timeoutMs: c.punchTimeoutMs } } : {}),
  }
}
