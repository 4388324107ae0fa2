import type {
  AbortOptions,
  AnnouncedAddress,
  Announcement,
  Identity,
  NatType,
  PortAllocation,
  TopicKeys,
} from '@harddrive-party/wire-protocol'
import type { ConnectRequest } from '@harddrive-party/wire-protocol/internal'
import type { TypedEventTarget } from 'main-event'

// One home for shared types (wire-protocol); re-exported for our modules and the package door.
export type { AbortOptions, Identity }

/** What we tell topic members about ourselves; discovery adds key, timestamp and nonce. */
export interface AnnouncementInput {
  addresses: AnnouncedAddress[]
  nat: NatType
  portAllocation?: PortAllocation
}

/** Where a peer was found. */
export type DiscoverySource = 'mqtt' | 'mdns'

interface PeerFoundBase {
  /** The `TopicKeys` object that was passed to `join()`. */
  topic: TopicKeys
  announcement: Announcement
}

/**
 * Found through MQTT: `announcement` is exactly what the peer signed with its key and sealed
 * with the topic key; `timestamp` and `nonce` are the peer's.
 */
export interface MqttPeerFound extends PeerFoundBase {
  via: 'mqtt'
  proof: 'signature'
}

/**
 * Found through mDNS: nothing is signed. The proof is a capability (an HMAC under the topic's
 * mDNS key) bound to the advertised key, LAN address and port. `announcement` is built here:
 * one `kind: 'lan'` address, `nat: 'unknown'`, `timestamp` = when the record arrived, and
 * `nonce` = the matching capability. The key is only a claim until the transport handshake
 * proves it.
 */
export interface MdnsPeerFound extends PeerFoundBase {
  via: 'mdns'
  proof: 'capability'
}

/** Detail of a `peer` event: a verified announcement, new or changed. */
export type PeerFound = MqttPeerFound | MdnsPeerFound

/**
 * Detail of a `connect` event: a member asked us to punch now (docs/protocol.md §6.2). The
 * request is signed by `request.from` and was sealed for us; freshness and replays are checked.
 */
export interface ConnectRequestFound {
  topic: TopicKeys
  request: ConnectRequest
  via: 'mqtt'
}

/** Why a peer stopped being announced. */
export type PeerGoneReason =
  /** Its retained MQTT announcement was cleared (graceful leave, or its last will). */
  | 'cleared'
  /** Its mDNS record no longer carries a capability for the topic. */
  | 'left'
  /** It said goodbye on mDNS (records with TTL 0). */
  | 'goodbye'
  /** Nothing fresh was heard from it within the freshness window or record TTL. */
  | 'expired'

/** Detail of a `gone` event. Advisory: on an open broker anyone can clear a retained slot. */
export interface PeerGone {
  topic: TopicKeys
  key: Uint8Array
  via: DiscoverySource
  reason: PeerGoneReason
}

/** Detail of a `status` event, sent once per change, never once per retry. */
export interface DiscoveryStatus {
  via: DiscoverySource
  state: 'online' | 'offline'
  /** One human-readable line (which broker, what failed). */
  message: string
  error?: unknown
}

/** Why an incoming message or record was refused. */
export type RejectionReason =
  /** MQTT topic string outside our layout. */
  | 'bad-topic'
  /** Payload larger than the announcement limit. */
  | 'too-large'
  /** Not decodable (bad CBOR, bad DNS packet, missing fields). */
  | 'malformed'
  /** An announcement format or mDNS record version we do not read. */
  | 'unsupported-version'
  /** Did not open with the topic key (another topic, or garbage). */
  | 'bad-seal'
  /** Opened, but the signature does not match the key inside. */
  | 'bad-signature'
  /** Timestamp older than the freshness window. */
  | 'stale'
  /** Timestamp further in the future than the allowed clock skew. */
  | 'from-future'
  /** A nonce already accepted, or older than the newest accepted from that key. */
  | 'replay'
  /** Our own announcement or record. */
  | 'own'
  /** An mDNS record that is incomplete or names an invalid endpoint. */
  | 'bad-record'
  /** No capability in an mDNS record matches a joined topic for the advertised endpoint. */
  | 'unmatched-capability'

export const REJECTION_REASONS: readonly RejectionReason[] = [
  'bad-topic',
  'too-large',
  'malformed',
  'unsupported-version',
  'bad-seal',
  'bad-signature',
  'stale',
  'from-future',
  'replay',
  'own',
  'bad-record',
  'unmatched-capability',
]

/** Counters since creation (a snapshot; they survive stop/start). */
export interface DiscoveryStats {
  /** Messages (MQTT) or service records (mDNS) examined. */
  received: number
  /** Verified announcements that were new or changed: one `peer` event each. */
  accepted: number
  /** Verified announcements that changed nothing (periodic refresh). */
  refreshed: number
  /** Byte-identical re-deliveries of the current announcement (retained messages after a resubscribe). */
  duplicates: number
  rejected: Record<RejectionReason, number>
}

export interface DiscoveryEvents {
  /** A verified peer announcement, emitted once per change per (topic, key, source). */
  peer: CustomEvent<PeerFound>
  /** A peer stopped being announced on a topic. */
  gone: CustomEvent<PeerGone>
  /** The component went offline or came back (e.g. broker unreachable). */
  status: CustomEvent<DiscoveryStatus>
  /** A member asked us to start our side of a hole punch now (MQTT only). */
  connect: CustomEvent<ConnectRequestFound>
}

export interface PeersOptions extends AbortOptions {
  /** Only this topic (compared by `publicId`). */
  topic?: TopicKeys
}

/** What every discovery implementation (MQTT, mDNS, both) offers. */
export interface Discovery extends TypedEventTarget<DiscoveryEvents> {
  /** Binds sockets / connects, then advertises every joined topic. Idempotent. */
  start(options?: AbortOptions): Promise<void>
  /** Clears our announcements where possible and releases everything. Idempotent. */
  stop(): Promise<void>
  /**
   * Starts announcing on and listening to a topic (idempotent per `publicId`). Allowed before
   * `start()`; joined topics survive stop/start but not the process: the caller persists them.
   */
  join(topic: TopicKeys, options?: AbortOptions): Promise<void>
  /** Stops announcing on a topic and forgets its peers (no `gone` events for them). */
  leave(topic: TopicKeys, options?: AbortOptions): Promise<void>
  /** Re-announces now on every joined topic, e.g. after our addresses or NAT type changed. */
  announce(options?: AbortOptions): Promise<void>
  /** The joined topics. */
  topics(): TopicKeys[]
  /** Peers currently known (latest announcement per topic and key). */
  knownPeers(topic?: TopicKeys): PeerFound[]
  /** Known peers first, then every new or changed one, until `signal` aborts. */
  peers(options?: PeersOptions): AsyncGenerator<PeerFound>
  /** Counters, including rejections by reason. */
  readonly stats: DiscoveryStats
  [Symbol.asyncDispose](): Promise<void>
}
