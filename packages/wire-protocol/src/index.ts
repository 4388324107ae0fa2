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
export type {
  AddressKind,
  AnnouncedAddress,
  Announcement,
  NatType,
  PortAllocation,
} from './announcement'
export { openAnnouncement, sealAnnouncement } from './announcement'
export type { TransferState } from './api-events'
export { decodeApiEventJson, TRANSFER_STATES } from './api-events'
export type {
  ApiCommand,
  ApiCommandType,
  ApiErrorCode,
  ApiEvent,
  ApiLimitChanges,
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
  MAX_RATE_BYTES_PER_SECOND,
  MAX_UPLOAD_SLOTS,
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
  ApiUpload,
  ApiUploads,
} from './api-results'
export { API_ERROR_STATUS, API_SERVED_COMMANDS, MAX_API_READ_BYTES } from './api-results'
export type { WireErrorCode } from './errors'
export { HdpError, isHdpError, isWireError, WireError } from './errors'
export type { FrameOptions } from './framing'
export { encodeFrame, FRAME_HEADER_BYTES, FrameDecoder, readFrames } from './framing'
export { publicKeyFromSeed } from './keys'
export * as limits from './limits'
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
  PEER_ERROR_CODES,
  PeerError,
  peerErrorFromMessage,
} from './peer-messages'
export type {
  FileErrorMessage,
  FileHeader,
  ReadManyFile,
  ReadManyRequest,
  ReadManyResponse,
} from './read-many'
export {
  decodeReadManyResponse,
  encodeReadManyMessage,
  MAX_READ_MANY_BYTES,
  MAX_READ_MANY_FILE_BYTES,
  MAX_READ_MANY_FILES,
  MAX_READ_MANY_PATH_BYTES,
  READ_MANY_MINOR,
  understandsReadMany,
} from './read-many'
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
export type { DeriveTopicOptions, TopicKeys } from './topic'
export { deriveTopicKeys, validateTopicName } from './topic'
export type { ProtocolVersion } from './version'
export { checkVersion, PROTOCOL_MAJOR, PROTOCOL_MINOR, PROTOCOL_VERSION } from './version'
