import type { TransferState } from './api-events'
import type { ApiCommand, ApiErrorCode } from './api-messages'
import type { Entry } from './peer-messages'

/**
 * What each control-API command answers (docs/api.md). JSON-shaped: keys and cursors are
 * lowercase hex, byte counts are numbers, times are ms since the epoch.
 */

export interface ApiAddress {
  host: string
  port: number
}

export interface ApiNatReport {
  nat: string
  portAllocation: string
  publicAddress?: ApiAddress
  reason: string
}

export interface ApiInfo {
  name: string
  /** Our public key, hex. */
  key: string
  nat: ApiNatReport
  addresses: { transport: ApiAddress & { tcp: boolean }; api: string }
  versions: { protocol: string; alpn: string; node: string }
  storageDir: string
  /** What our blind relay does (docs/connectivity.md); absent from older peers. */
  relay?: ApiRelay
}

/** The relay's accounting: pairs now (bytes each way) and totals since start. */
export interface ApiRelay {
  enabled: boolean
  maxBytesPerSecond: number
  maxPairs: number
  pairs: Array<{
    asker: string
    target: string
    bytesToTarget: number
    bytesToAsker: number
    startedAt: number
  }>
  pairsTotal: number
  bytesForwarded: number
  refused: number
}

export interface ApiTopics {
  topics: string[]
}

/** The connection doctor's view of one peer (peer-node's `PeerInfo`). */
export interface ApiPeer {
  key: string
  name: string
  connected: boolean
  topics: string[]
  announcedVia: Array<'mqtt' | 'mdns'>
  attempt?: {
    ourNat: string
    theirNat: string
    via: 'mqtt' | 'mdns' | 'remembered'
    tried: string[]
    used?: string
    elapsedMs?: number
    failure?: string
    attempts: number
    failures: number
    nextAttemptAt?: number
    /** While relayed: when the peer next looks for a direct path (ms since the epoch). */
    nextUpgradeAt?: number
  }
  connection?: {
    carrier: 'udx' | 'tcp' | 'relay'
    /** How it reaches the peer: `direct`, through a `turn` server, or a `relay`ing member. */
    path: 'direct' | 'turn' | 'relay'
    initiator: boolean
    remoteAddress: ApiAddress
    topic: string
    rttMs: number
    bytesSent: number
    bytesReceived: number
    connectedAt: number
  }
}

export interface ApiPeers {
  peers: ApiPeer[]
}

/** One page of a listing or search, from one peer; `cursor` (hex) continues that peer's listing. */
export interface ApiEntryPage {
  type: 'page'
  peer: string
  name: string
  entries: Entry[]
  cursor?: string
}

/** A peer in an all-peers listing that could not answer; the others still do. */
export interface ApiPeerError {
  type: 'peer-error'
  peer: string
  name: string
  code: string
  message: string
}

/** The streamed answer of `ls`: pages and peer errors as they come, then `end`. */
export type ApiListLine = ApiEntryPage | ApiPeerError | { type: 'end' }

export interface ApiShare {
  name: string
  root: string
  files: number
  bytes: number
  addedAt: number
  scannedAt?: number
}

export interface ApiShares {
  shares: ApiShare[]
  files: number
  bytes: number
}

export interface ApiRescan {
  shares: Array<{ share: string; dirs: number; files: number; bytes: number; changed: number }>
  files: number
  bytes: number
  durationMs: number
}

/** At most `MAX_API_READ_BYTES` of a peer's file; larger reads go through `/files/peer/...`. */
export interface ApiRead {
  size: number
  mtime: number
  offset: number
  length: number
  /** The bytes, base64. */
  data: string
}

export interface ApiLimits {
  serving: {
    uploadSlots: number
    maxActiveReadsPerPeer: number
    maxWaitingReadsPerPeer: number
    maxRequestsPerPeer: number
    maxWatchesPerPeer: number
    uploadBytesPerSecond: number
    uploadBytesPerSecondPerPeer: number
  }
  downloads: { bytesPerSecond: number; bytesPerSecondPerPeer: number }
  api: { maxBodyBytes: number; maxReadBytes: number; maxWebSocketQueueBytes: number }
}

/**
 * A peer reading one of our files (peer-node's `Upload`): waiting for an upload slot
 * (`queued`, with its place), being sent (`active`), or recently ended.
 */
export interface ApiUpload {
  /** Ours, unique while the peer runs (`u1`, `u2`, ...). */
  id: string
  /** The reader's hex key and display name. */
  peer: string
  peerName: string
  path: string
  /** The file's size, and the range the reader asked for. */
  size: number
  offset: number
  length: number
  /** Bytes of the range sent so far. */
  bytes: number
  bytesPerSecond: number
  state: Extract<TransferState, 'queued' | 'active' | 'done' | 'failed' | 'cancelled'>
  /** While `queued`: 1 = next to get a slot. */
  queuePosition?: number
  error?: string
  startedAt: number
  updatedAt: number
  finishedAt?: number
}

/** `uploads`: reads in progress (queued first), then the most recently ended ones (newest first). */
export interface ApiUploads {
  uploads: ApiUpload[]
}

/** A download request (peer-node's `DownloadRequest`). */
export interface ApiDownload {
  id: string
  peer: string
  peerName: string
  path: string
  dir: boolean
  localPath: string
  state: 'queued' | 'waiting' | 'active' | 'paused' | 'done' | 'failed'
  reason?: string
  size: number
  files: number
  filesDone: number
  filesFailed: number
  bytesDone: number
  expanding: boolean
  position?: number
  createdAt: number
  updatedAt: number
  finishedAt?: number
}

/** Result of each command the control API serves. */
export interface ApiResults {
  info: ApiInfo
  topics: ApiTopics
  join: ApiTopics
  leave: ApiTopics
  peers: ApiPeers
  ls: ApiListLine
  shares: ApiShares
  'add-share': { share: ApiShare }
  'remove-share': { removed: boolean }
  rescan: ApiRescan
  read: ApiRead
  limits: ApiLimits
  'set-limits': ApiLimits
  uploads: ApiUploads
  download: { request: ApiDownload }
  queue: { requests: ApiDownload[] }
  pause: { request: ApiDownload }
  resume: { request: ApiDownload }
  cancel: { cancelled: boolean }
  reorder: { request: ApiDownload }
  stop: { stopping: true }
}

/** The commands the control API serves. */
export type ApiServedCommandType = keyof ApiResults

export const API_SERVED_COMMANDS = [
  'info',
  'topics',
  'join',
  'leave',
  'peers',
  'ls',
  'shares',
  'add-share',
  'remove-share',
  'rescan',
  'read',
  'limits',
  'set-limits',
  'uploads',
  'download',
  'queue',
  'pause',
  'resume',
  'cancel',
  'reorder',
  'stop',
] as const satisfies readonly ApiServedCommandType[]

/** A command's fields without its `type` (the JSON body of `POST /api/<type>`). */
export type ApiCommandBody<T extends ApiServedCommandType> = Omit<
  Extract<ApiCommand, { type: T }>,
  'type' | 'cursor'
> &
  (T extends 'ls' ? { cursor?: string } : unknown)

export const MAX_API_READ_BYTES = 1024 * 1024

/** The HTTP status of each API error code. */
export const API_ERROR_STATUS: Record<ApiErrorCode, number> = {
  BAD_REQUEST: 400,
  UNSUPPORTED_VERSION: 400,
  UNAUTHORIZED: 401,
  FORBIDDEN: 403,
  NOT_FOUND: 404,
  CONFLICT: 409,
  TOO_LARGE: 413,
  BAD_RANGE: 416,
  PEER_UNAVAILABLE: 502,
  BUSY: 503,
  INTERNAL: 500,
}

/** The body of every HTTP error answer. */
export interface ApiErrorBody {
  error: { code: ApiErrorCode; message: string }
}
