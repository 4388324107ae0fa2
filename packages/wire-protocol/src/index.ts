/**
 * @packageDocumentation
 * The harddrive-party wire protocol: CBOR messages, length-prefixed framing, versioning,
 * topic keys, sealed announcements and validation of untrusted bytes. No I/O.
 *
 * @example
 * ```ts
 * import { encodeFrame, encodePeerMessage, FrameDecoder, decodePeerRequest } from '@harddrive-party/wire-protocol'
 * const frame = encodeFrame(encodePeerMessage({ type: 'ls', path: 'music', recursive: false }))
 * const decoder = new FrameDecoder()
 * decoder.push(frame)
 * const req = decodePeerRequest(decoder.nextFrame()!) // { type: 'ls', path: 'music', recursive: false }
 * ```
 */
export { isIPv4, isIPv6, validateHost } from './address'
export type { AddressClass } from './address-class'
export {
  ANNOUNCED_ADDRESS_CLASSES,
  checkAnnouncedAddress,
  classifyAddress,
} from './address-class'
export type {
  AddressKind,
  AnnouncedAddress,
  Announcement,
  NatType,
  PortAllocation,
} from './announcement'
export {
  ADDRESS_KINDS,
  ANNOUNCEMENT_FORMAT,
  announcementFromWire,
  NAT_TYPES,
  openAnnouncement,
  PORT_ALLOCATIONS,
  sealAnnouncement,
} from './announcement'
export { decodeApiEventJson } from './api-events'
export type {
  ApiCommand,
  ApiCommandType,
  ApiErrorCode,
  ApiEvent,
  ApiRequest,
  ApiServerMessage,
  PeerRef,
} from './api-messages'
export {
  API_ERROR_CODES,
  decodeApiCommandJson,
  decodeApiRequest,
  decodeApiRequestJson,
  decodeApiServerMessage,
  encodeApiMessage,
} from './api-messages'
export type {
  ApiAddress,
  ApiCommandBody,
  ApiDownload,
  ApiEntryPage,
  ApiErrorBody,
  ApiInfo,
  ApiLimits,
  ApiListLine,
  ApiNatReport,
  ApiPeer,
  ApiPeerError,
  ApiPeers,
  ApiRead,
  ApiRelay,
  ApiRescan,
  ApiResults,
  ApiServedCommandType,
  ApiShare,
  ApiShares,
  ApiTopics,
} from './api-results'
export { API_ERROR_STATUS, API_SERVED_COMMANDS, MAX_API_READ_BYTES } from './api-results'
export { decodeCbor, encodeCbor } from './cbor'
export { hasControlChar } from './check'
export { compareKeys, derivePunchSecret, isDialer } from './connect'
export type { ConnectRequest } from './connect-request'
export {
  CONNECT_REQUEST_FORMAT,
  connectInbox,
  openConnectRequest,
  sealConnectRequest,
} from './connect-request'
export type { WireErrorCode } from './errors'
export { HdpError, isHdpError, isWireError, WireError } from './errors'
export type { FrameOptions } from './framing'
export { encodeFrame, FRAME_HEADER_BYTES, FrameDecoder, readFrames } from './framing'
export { publicKeyFromSeed } from './keys'
export * as limits from './limits'
export type { MdnsEndpoint, MdnsRecord } from './mdns-record'
export {
  createMdnsCapability,
  decodeMdnsRecord,
  encodeMdnsRecord,
  MAX_MDNS_CAPABILITIES,
  MDNS_CAPABILITY_BYTES,
  MDNS_SERVICE_TYPE,
  matchMdnsCapabilities,
  validateMdnsEndpoint,
} from './mdns-record'
export { isSharePath, joinSharePath, splitSharePath, validateSharePath } from './path'
export type {
  EndMessage,
  EntriesMessage,
  Entry,
  ErrorMessage,
  ExpectedFile,
  Hello,
  LsRequest,
  LsResponse,
  PeerErrorCode,
  PeerMessage,
  PeerRequest,
  QueuedMessage,
  ReadHeader,
  ReadRequest,
  ReadResponse,
} from './peer-messages'
export {
  decodeHello,
  decodeLsResponse,
  decodePeerRequest,
  decodeReadResponse,
  encodePeerMessage,
  lsLimit,
  PEER_ERROR_CODES,
  PeerError,
  peerErrorFromMessage,
} from './peer-messages'
export type {
  RelayAccepted,
  RelayedRequest,
  RelayRequest,
  RelayResponse,
} from './relay-messages'
export { decodeRelayRequest, decodeRelayResponse, encodeRelayMessage } from './relay-messages'
export type {
  IncomingRequest,
  SharesChangedMessage,
  WatchRequest,
  WatchResponse,
} from './share-watch'
export { decodeIncomingRequest, decodeWatchResponse, encodeWatchMessage } from './share-watch'
export type {
  AbortOptions,
  CreateLogger,
  DatagramSocket,
  Identity,
  Logger,
  SocketAddress,
} from './shared-types'
export type { DeriveTopicOptions, HelloProofInput, HelloRole, TopicKeys } from './topic'
export {
  createHelloProof,
  deriveTopicKeys,
  equalBytes,
  TOPIC_KDF,
  validateTopicName,
  verifyHelloProof,
} from './topic'
export type { ProtocolVersion } from './version'
export { ALPN, checkVersion, PROTOCOL_MAJOR, PROTOCOL_MINOR, PROTOCOL_VERSION } from './version'
