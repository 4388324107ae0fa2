import type { TypedEventTarget } from 'main-event'

/**
 * The public face of downloads (`node.downloads`): a persistent queue of files and folders from
 * other peers, kept in the index's wishlist, that completes byte-exact through dropped links,
 * kills and restarts of either side.
 */

/**
 * - `queued`: waiting for its turn (or for the folder listing to find more files)
 * - `waiting`: the peer is not connected; resumes by itself when it is
 * - `active`: bytes are moving (or a read waits in the peer's upload queue: see `queuePosition`)
 * - `paused`: by `pause(id)`, or every request while the queue is halted (`status().halted`)
 * - `done`: every file is in place under its final name
 * - `failed`: every file ended, some failed (see `reason`); `resume(id)` tries the failed ones again
 */
export type DownloadState = 'queued' | 'waiting' | 'active' | 'paused' | 'done' | 'failed'

/** One download request: a file or a whole folder of one peer. */
export interface DownloadRequest {
  id: string
  /** The peer's public key, lowercase hex. */
  peer: string
  /** The peer's name when the request was added (its folder under `downloadDir`). */
  peerName: string
  /** Remote share path (`<share>/<path>`). */
  path: string
  /** True for a folder. Unknown (false) until the first listing page when added offline. */
  dir: boolean
  /** Local folder or file it lands in: `downloadDir/<peer name>/<share>/<path>` (made safe). */
  localPath: string
  state: DownloadState
  /** Why it is failed, paused by the queue, or why its last file failed. */
  reason?: string
  /**
   * Set when the request failed as a whole, before any file: `NOT_FOUND` (the peer has no such
   * path) or `EMPTY` (it lists nothing under it). `resume(id)` lists it again.
   */
  code?: 'NOT_FOUND' | 'EMPTY'
  /** Bytes of the files known so far. */
  size: number
  /** Files known so far (a folder grows while `expanding`). */
  files: number
  filesDone: number
  filesFailed: number
  /** Bytes downloaded (a lower bound; the files on disk are the truth). */
  bytesDone: number
  /** True while the folder's remote listing is still being read (page by page). */
  expanding: boolean
  /** 1-based position among unfinished requests. */
  position?: number
  createdAt: number
  updatedAt: number
  finishedAt?: number
}

/** One file of a request, and where it is on this machine. */
export interface DownloadFile {
  requestId: string
  /** 0-based index within its request. */
  index: number
  /** Remote share path. */
  path: string
  /** Where the completed file is (or will be). */
  localPath: string
  /** Where its bytes go until it completes. */
  partPath: string
  size: number
  mtime?: number
  state: 'queued' | 'active' | 'done' | 'failed'
  /** Bytes on disk now (the `.part` file's length, or `size` once done). */
  bytesOnDisk: number
  reason?: string
}

export interface DownloadAddOptions {
  /** 1-based queue position. Default: last. */
  position?: number
  /** Caller-chosen id (an `add` retried after a crash is not doubled). Default: random. */
  id?: string
}

/** Bytes per second; 0 or absent: unlimited. */
export interface DownloadLimits {
  bytesPerSecond: number
  bytesPerSecondPerPeer: number
}

export interface DownloadQueueStatus {
  /** True when the whole queue stopped by itself (disk full); `resumeQueue()` restarts it. */
  halted: boolean
  reason?: string
  limits: DownloadLimits
}

/** Throttled (per request, `progressIntervalMs`): enough for a progress bar, never a flood. */
export interface DownloadProgressEvent {
  requestId: string
  peer: string
  bytesDone: number
  size: number
  filesDone: number
  files: number
  /** Over the last few seconds. */
  bytesPerSecond: number
  /** Seconds left at the current speed; absent while unknown (no speed, size still growing). */
  etaSeconds?: number
  /** The file being received most recently. */
  file?: { index: number; path: string; bytesOnDisk: number; size: number }
  /** Position in the peer's upload queue while a read waits for a slot (1 = next). */
  queuePosition?: number
}

export interface DownloadFileEvent {
  requestId: string
  index: number
  path: string
  localPath: string
  /** `restarted`: the remote file changed (`CHANGED`); its part was dropped and it starts again from zero. */
  outcome: 'done' | 'failed' | 'restarted'
  reason?: string
}

/** Something went wrong that a person should hear about; the rest of the queue continues. */
export interface DownloadErrorEvent {
  requestId?: string
  path?: string
  /**
   * `UNSAFE_NAME`: a remote name was refused (outside the folder, a symlink or file in the way...);
   * `DISK_FULL`: the queue halted; `CHANGED`: the remote file changed; `REMOTE`: the peer refused
   * the read; `LOCAL_IO`: a file could not be written; `EXPAND`: the folder listing failed
   * (it is tried again) or dropped an entry; `NOT_FOUND` / `EMPTY`: the request failed as a
   * whole (see {@link DownloadRequest.code}).
   */
  code:
    | 'UNSAFE_NAME'
    | 'DISK_FULL'
    | 'CHANGED'
    | 'REMOTE'
    | 'LOCAL_IO'
    | 'EXPAND'
    | 'NOT_FOUND'
    | 'EMPTY'
  message: string
}

export interface DownloadEvents {
  /** A request was added, changed state or counters, or was removed (`removed: true`). */
  'download:change': CustomEvent<{ request: DownloadRequest; removed: boolean }>
  'download:progress': CustomEvent<DownloadProgressEvent>
  'download:file': CustomEvent<DownloadFileEvent>
  'download:error': CustomEvent<DownloadErrorEvent>
  /** The queue halted (disk full) or runs again. */
  'download:queue': CustomEvent<DownloadQueueStatus>
}

/** `node.downloads` (while the node is started). */
export interface Downloads extends TypedEventTarget<DownloadEvents> {
  /**
   * Queues a remote file or folder of a peer (hex key or bytes). Works while the peer is
   * offline: what the path is becomes known when it is seen again.
   */
  add(
    peer: string | Uint8Array,
    remotePath: string,
    options?: DownloadAddOptions,
  ): Promise<DownloadRequest>
  /** Every request in queue order (finished ones where they stood). */
  list(): Promise<DownloadRequest[]>
  get(id: string): DownloadRequest | undefined
  /** A request's files, `offset`/`limit` for paging (a folder may hold 500,000). */
  files(id: string, options?: { offset?: number; limit?: number }): Promise<DownloadFile[]>
  /** One file, with where its bytes are now (for streaming a file still downloading). */
  file(id: string, index: number): Promise<DownloadFile | undefined>
  pause(id: string): Promise<DownloadRequest>
  /** Runs a paused request again and retries its failed files. */
  resume(id: string): Promise<DownloadRequest>
  /** Stops and forgets a request and removes its `.part` files (completed files stay). */
  cancel(id: string): Promise<boolean>
  /** Moves an unfinished request to a 1-based position. */
  reorder(id: string, position: number): Promise<DownloadRequest>
  setLimits(limits: Partial<DownloadLimits>): void
  status(): DownloadQueueStatus
  /** Restarts a queue halted by a full disk. */
  resumeQueue(): void
}

/** Options of createPeerNode for downloads. */
export interface DownloadOptions {
  /** Reads in flight per peer (pipelined; small files do not wait a round trip each). Default 4. */
  readsPerPeer?: number
  /** Interval of `download:progress` per request, ms. Default 250. */
  progressIntervalMs?: number
  /** Initial rate limits. Default unlimited. */
  limits?: Partial<DownloadLimits>
  /** Folder listing page size. Default 1000. */
  listPageSize?: number
}
