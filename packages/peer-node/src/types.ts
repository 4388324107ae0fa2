import type {
  DiscoveryStatus,
  MdnsDiscoveryOptions,
  MqttDiscoveryOptions,
} from '@harddrive-party/discovery'
import type { NatReport } from '@harddrive-party/holepunch'
import type { IndexStore } from '@harddrive-party/index-store'
import type { Carrier, Connection } from '@harddrive-party/transport'
import type { AbortOptions, CreateLogger } from '@harddrive-party/wire-protocol'
import type { TypedEventTarget } from 'main-event'
import type { ConnectionPath } from './connections/connection-registry'
import type { AttemptInfo } from './connections/peer-state'
import type { DownloadOptions, Downloads } from './downloads/download-types'
import type { NodeLimits } from './node-limits'
import type { PortMappingInfo, PortMappingOptions } from './port-mapping'
import type { RelayInfo, RelayOptions } from './relay/relay-service'
import type { PeerClient } from './remote/peer-client'
import type { ServingLimits } from './serving/request-server'
import type { Upload } from './serving/upload-tracker'
import type { StorageLayout } from './storage/storage-dir'
import type { TurnInfo } from './turn-relays'

// One home for shared types (wire-protocol); re-exported for our modules and the package door.
export type { AbortOptions }

/** A peer as people see it: its key and the name derived from it. */
export interface PeerRef {
  /** The peer's ed25519 public key (its id). */
  key: Uint8Array
  /** The key in lowercase hex. */
  hex: string
  /** Adjective + animal from the key; `Name-1a2b` where two known peers share a name. */
  name: string
}

/** What the connection doctor shows for one peer. */
export interface PeerInfo extends PeerRef {
  connected: boolean
  /** Names of our joined topics that announce this peer now. */
  topics: string[]
  /** How it is announced now. */
  announcedVia: Array<'mqtt' | 'mdns'>
  /** The last connection attempt (ours, or `accepted`): NATs, techniques, timing, failure. */
  attempt: AttemptInfo | undefined
  /** The live connection, when there is one. */
  connection: ConnectionSummary | undefined
}

export interface ConnectionSummary {
  carrier: Carrier
  /** How it reaches the peer: `direct`, through a `turn` server, or a `relay`ing member. */
  path: ConnectionPath
  /** True when we dialled. */
  initiator: boolean
  remoteAddress: { host: string; port: number }
  /** Name of the topic both proved. */
  topic: string
  rttMs: number
  bytesSent: number
  bytesReceived: number
  connectedAt: number
}

export interface PeerConnectEvent {
  peer: PeerRef
  connection: Connection
  /** True when it replaced an earlier connection to the same peer (race or reconnect). */
  replaced: boolean
}

export interface PeerDisconnectEvent {
  peer: PeerRef
  /** Why the connection ended (a `TransportError`), when known. */
  reason: Error | undefined
}

export interface PeerNodeEvents {
  /** A connection became a peer's live one. */
  'peer:connect': CustomEvent<PeerConnectEvent>
  /** A peer's live connection closed and none replaced it. */
  'peer:disconnect': CustomEvent<PeerDisconnectEvent>
  /** Our NAT report or addresses changed (we re-announce). */
  nat: CustomEvent<NatReport>
  /** A discovery half went online or offline. */
  'discovery:status': CustomEvent<DiscoveryStatus>
  /** A peer's read of our files was queued, started, progressed (≤ 4/s) or ended. */
  upload: CustomEvent<Upload>
}

export interface PeerNodeOptions {
  /** Storage directory. Default `$XDG_DATA_HOME/harddrive-party` or `~/.local/share/harddrive-party`. */
  storageDir?: string
  /** UDP (and TCP) port. Default: the one saved in the storage directory, else any free one (then saved). */
  port?: number
  /** Address to bind. Default `'::'` (dual-stack; `'0.0.0.0'` when IPv6 is unavailable). */
  host?: string
  /** STUN servers (`host:port`) asked for our NAT type. Default holepunch's public list; `[]`: none (NAT `unknown`). */
  stunServers?: readonly string[]
  /** Bound on one NAT detection. Default 10000. */
  natTimeoutMs?: number
  /** How often the NAT and our addresses are checked again. Default 300000. */
  natRecheckMs?: number
  /** LAN addresses to announce. Default every non-internal IPv4 address. */
  lanAddresses?: readonly string[]
  /**
   * Ask the home router for a mapping of our UDP port (NAT-PMP, then UPnP IGD), announce the
   * mapped address, renew it and delete it on stop. Default `false`: finding a router sends
   * SSDP multicast on the LAN, which the app turns on, not the library.
   */
  portMapping?: PortMappingOptions | false
  /**
   * TURN servers (`turn://user:pass@host:port`, UDP), tried in order. When our NAT is hard we
   * allocate a relayed address on the first that works and announce it: a peer that cannot punch
   * to us (hard↔hard) dials it (technique `turn`). Default none.
   */
  turnServers?: readonly string[]
  /** MQTT discovery (discovery's options), or `false`. Default `{}` (the public broker). */
  mqtt?: Omit<MqttDiscoveryOptions, 'identity' | 'getAnnouncement'> | false
  /** mDNS discovery (`interface` required; the port is the transport's), or `false` (default). */
  mdns?: Omit<MdnsDiscoveryOptions, 'identity' | 'port'> | false
  /** Transport timers and carriers. */
  transport?: {
    keepAliveMs?: number
    idleTimeoutMs?: number
    handshakeTimeoutMs?: number
    tcp?: boolean
  }
  /** Connection attempts: direct dial timeout, acceptor wait after a punch, retry delays, punch timeout. */
  connect?: {
    directTimeoutMs?: number
    acceptWaitMs?: number
    backoffMs?: readonly number[]
    punchTimeoutMs?: number
    /**
     * While a peer is reached only through a relay (member or TURN): delays between looks for a
     * direct path, the last repeating. Default 30 s doubling to 10 min. Our or the peer's
     * announcement changing is looked at at once as well.
     */
    upgradeBackoffMs?: readonly number[]
    /** How long a relayed connection replaced by a direct one may finish its streams. Default 30000. */
    drainMs?: number
    /**
     * Move a bulk transfer's connection from TCP to UDX when TCP is the brake (a lossy LAN, see
     * docs/transport.md §2). Default true.
     */
    moveToUdx?: boolean
  }
  /** Topic-name KDF cost. Tests only: every member of a topic must use the same. */
  topicKdf?: { N: number; r: number; p: number }
  /** Software name sent in our hello. */
  agent?: string
  /**
   * Called when a connection becomes a peer's live one: the hook for the serving side. Do not
   * open streams from it on an accepted connection yet (transport issue 9.4).
   */
  onConnection?: (peer: PeerRef, connection: Connection) => void
  /**
   * Upload slots, per-peer request limits and upload rates for serving our shares. Fields given
   * here win over the limits saved by `setLimits`.
   */
  serving?: Partial<ServingLimits>
  /**
   * Relay for members that cannot reach each other (hard↔hard NATs): opt-in, ciphertext only,
   * with a bandwidth and pair cap (docs/connectivity.md). Default off.
   */
  relay?: RelayOptions
  /**
   * Where downloads land: `<downloadDir>/<peer name>/<share>/<path>`. Default
   * `~/Downloads/harddrive-party`.
   */
  downloadDir?: string
  /** Reads per peer, progress interval, initial rate limits, listing page size. */
  downloads?: DownloadOptions
  /**
   * Logger factory for the whole node; default `debug('hdp:peer-node:<component>')`, and each
   * layer its own `debug('hdp:<package>:<component>')`. Given one, it also receives the layers'
   * lines, their components tagged with the package (`'transport:udx'`, `'discovery:mqtt'`,
   * `'holepunch:puncher'`, `'index-store:scan'`); peer-node's own are untagged (`'node'`).
   */
  logger?: CreateLogger
}

export interface PeerNode extends TypedEventTarget<PeerNodeEvents> {
  /** Opens the storage, binds the transport, detects the NAT, starts discovery, rejoins topics. */
  start(options?: AbortOptions): Promise<void>
  /** Leaves topics cleanly, closes every connection and socket, releases the storage. */
  stop(): Promise<void>
  [Symbol.asyncDispose](): Promise<void>
  /** Our public key (after `start()`). */
  readonly publicKey: Uint8Array
  /** Our own peer name. */
  readonly name: string
  readonly storage: StorageLayout
  /** The index (shares, wishlist, topics) in the storage directory, open while started. */
  readonly store: IndexStore
  /** The bound transport address. */
  address(): { host: string; port: number; tcp: boolean }
  /** The last NAT report (with our port mapping applied: then `open` at the mapped address). */
  readonly nat: NatReport
  /** What our relay does (pairs, bytes forwarded each way), for the doctor. */
  readonly relay: RelayInfo
  /** Our router's port mapping while we hold one (`portMapping` option), for the doctor. */
  readonly portMapping: PortMappingInfo | undefined
  /** Our TURN allocation while we hold one (`turnServers` option), for the doctor. */
  readonly turn: TurnInfo | undefined
  /** Joins a topic (persisted; rejoined at every start). */
  join(name: string, options?: AbortOptions): Promise<void>
  /** Leaves a topic: its announcement is cleared, connections only it justified close. */
  leave(name: string): Promise<void>
  /** Names of the joined topics. */
  topics(): string[]
  /** Announced and connected peers, with what the connection doctor shows. */
  peers(): PeerInfo[]
  /**
   * A client for the peer's shares (`ls`, `search`, `read`, `watchShares`) over its live
   * connection; `NOT_CONNECTED` when there is none. Make a new one after a reconnect.
   */
  client(key: string | Uint8Array): PeerClient
  /** The limits our shares are served with (defaults filled in). */
  servingLimits(): ServingLimits
  /**
   * Changes upload slots and upload/download rates at once (`INVALID_OPTIONS` for an unknown
   * key, a non-integer, slots outside 1..64 or a rate outside 0..2^40), and saves them in the
   * storage directory (`limits.json`) for the next start, where `serving`/`downloads.limits`
   * options still win for the fields they name.
   */
  setLimits(changes: Partial<NodeLimits>, options?: AbortOptions): Promise<void>
  /** Peers reading our files now (queued first), then the last ended reads (newest first). */
  uploads(): Upload[]
  /** The download queue (files and folders of other peers), while started. */
  readonly downloads: Downloads
  /** Where downloads land. */
  readonly downloadDir: string
  /** The live connection to a peer (hex key or bytes), if any. */
  connection(key: string | Uint8Array): Connection | undefined
}
