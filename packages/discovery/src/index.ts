/**
 * @packageDocumentation
 * Turns "join topic X" into a stream of verified peer announcements: sealed, signed
 * announcements through any MQTT broker (retained, with a last will), and topic capabilities
 * over mDNS on the LAN, which needs no internet at all. An embedded aedes broker serves groups
 * that want no public broker.
 *
 * @example
 * ```ts
 * import { createMqttDiscovery, deriveTopicKeys } from '@harddrive-party/discovery'
 *
 * const discovery = createMqttDiscovery({
 *   brokerUrl: 'mqtt://127.0.0.1:1883',
 *   identity, // { publicKey, secretKey } from the transport
 *   getAnnouncement: () => ({ addresses: [{ host: '203.0.113.7', port: 4000, kind: 'public' }], nat: 'easy' }),
 * })
 * discovery.addEventListener('peer', ({ detail }) => console.log(detail.via, detail.announcement.addresses))
 * await discovery.start()
 * await discovery.join(await deriveTopicKeys('our secret topic'))
 * ```
 */

// What the README example needs from wire-protocol, so installing this package is enough.
export type { CreateLogger, Logger, TopicKeys } from '@harddrive-party/wire-protocol'
export { deriveTopicKeys } from '@harddrive-party/wire-protocol'
export type { BackoffOptions } from './backoff'
export type { CombinedDiscovery, DiscoveryOptions } from './combined-discovery'
export { createDiscovery } from './combined-discovery'
export type {
  AbortOptions,
  AnnouncementInput,
  ConnectRequestFound,
  Discovery,
  DiscoveryEvents,
  DiscoverySource,
  DiscoveryStats,
  DiscoveryStatus,
  Identity,
  MdnsPeerFound,
  MqttPeerFound,
  PeerFound,
  PeerGone,
  PeerGoneReason,
  PeersOptions,
  RejectionReason,
} from './discovery'
export { REJECTION_REASONS } from './discovery'
export type { EmbeddedBroker, EmbeddedBrokerOptions } from './embedded-broker'
export { createEmbeddedBroker } from './embedded-broker'
export type { DiscoveryErrorCode } from './errors'
export { DiscoveryError, isDiscoveryError } from './errors'
export type { MdnsDiscovery, MdnsDiscoveryOptions } from './mdns-discovery'
export { createMdnsDiscovery } from './mdns-discovery'
export type { MqttDiscovery } from './mqtt-discovery'
export { createMqttDiscovery } from './mqtt-discovery'
export type { MqttDiscoveryOptions } from './mqtt-options'
export { DEFAULT_BROKER_URL } from './mqtt-options'
