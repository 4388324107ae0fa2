/**
 * @packageDocumentation
 * A harddrive-party peer: one storage directory (identity, index, stable port), NAT detection,
 * discovery on the joined topics, and exactly one connection to every other member, made with
 * the technique both NAT types allow (LAN, direct, simultaneous punch, birthday). Serving:
 * {@link createRequestServer} answers connected peers' `ls`, `read` and `watch` from the index;
 * {@link createPeerClient} asks a connected peer the same.
 *
 * @example
 * ```ts
 * import { createPeerNode } from '@harddrive-party/peer-node'
 * const node = createPeerNode({ mqtt: { brokerUrl: 'mqtt://127.0.0.1:1883' } })
 * node.addEventListener('peer:connect', ({ detail }) => console.log('connected to', detail.peer.name))
 * await node.start()
 * await node.join('movie night')
 * // ... later
 * await node.stop()
 * ```
 */
export type { CreateLogger, Logger } from '@harddrive-party/wire-protocol'
export type {
  ApiCallType,
  ApiClient,
  ApiClientCallOptions,
  ApiClientOptions,
} from './api/api-client'
export { createApiClient } from './api/api-client'
export { ApiError, isApiError, toApiError } from './api/api-error'
export type { ApiServer, ApiServerOptions } from './api/api-server'
export { createApiServer } from './api/api-server'
export type { AttemptInfo } from './connections/peer-state'
export type { Technique } from './connections/technique'
export type {
  DownloadAddOptions,
  DownloadErrorEvent,
  DownloadEvents,
  DownloadFile,
  DownloadFileEvent,
  DownloadLimits,
  DownloadOptions,
  DownloadProgressEvent,
  DownloadQueueStatus,
  DownloadRequest,
  DownloadState,
  Downloads,
} from './downloads/download-types'
export { defaultDownloadDir } from './downloads/downloads'
export type { PeerNodeErrorCode } from './errors'
export { isPeerNodeError, PeerNodeError } from './errors'
export type { NodeLimits } from './node-limits'
export { displayNames, PEER_NAME_WORDS, peerName } from './peer-names'
export { createPeerNode } from './peer-node'
export type {
  PortMappingInfo,
  PortMappingOptions,
  PortMappingProtocol,
} from './port-mapping'
export type { RelayInfo, RelayOptions, RelayPairInfo } from './relay/relay-service'
export type {
  EntryPage,
  ListOptions,
  PeerClientOptions,
  ReadOptions,
  ReadQueuedEvent,
  ReadRange,
  RemoteRead,
  SearchOptions,
} from './remote/peer-client'
export { createPeerClient, PeerClient } from './remote/peer-client'
export type { ReadManyResult } from './remote/read-many-answer'
export type {
  LiveServingLimits,
  RequestServerEvents,
  RequestServerOptions,
  RequestServerStats,
  ServingLimits,
} from './serving/request-server'
export {
  createRequestServer,
  DEFAULT_SERVING_LIMITS,
  RequestServer,
} from './serving/request-server'
export type { Upload, UploadState } from './serving/upload-tracker'
export { defaultStorageDir } from './storage/default-storage-dir'
export type { StorageLayout } from './storage/storage-dir'
export type { TurnInfo } from './turn-relays'
export type {
  AbortOptions,
  ConnectionSummary,
  PeerConnectEvent,
  PeerDisconnectEvent,
  PeerInfo,
  PeerNode,
  PeerNodeEvents,
  PeerNodeOptions,
  PeerRef,
} from './types'
