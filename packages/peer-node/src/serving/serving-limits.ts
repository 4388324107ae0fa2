/** What a request server allows each peer and all peers (see `request-server.ts`). */
export interface ServingLimits {
  /** Reads served at once over all peers. Default 3. */
  uploadSlots: number
  /** Upload slots one peer may hold at once. Default `uploadSlots - 1` (at least 1). */
  maxActiveReadsPerPeer: number
  /** Reads of one peer waiting for a slot; more get `BUSY`. Default 48. */
  maxWaitingReadsPerPeer: number
  /**
   * Reads of at most one chunk (64 KiB) served at once over all peers, in a lane of their own
   * beside `uploadSlots` (one peer may hold half). Each holds an open file and at most one
   * chunk in memory. Default 64.
   */
  smallReadSlots: number
  /** Requests of one peer being answered at once (waiting reads and watches included); more get `BUSY`. Default 64. */
  maxRequestsPerPeer: number
  /** `watch` streams one peer may hold. Default 4. */
  maxWatchesPerPeer: number
  /** Upload rate over all peers, bytes/s; 0 = unlimited. Default 0. */
  uploadBytesPerSecond: number
  /** Upload rate to each peer, bytes/s; 0 = unlimited. Default 0. */
  uploadBytesPerSecondPerPeer: number
  /** A stream whose request frame does not arrive within this is aborted. Default 10000. */
  requestTimeoutMs: number
  /** A stream whose reader takes nothing for this long is aborted (its slot freed). Default 30000. */
  stallTimeoutMs: number
  /** How often waiting reads hear their queue position. Default 1000. */
  queuePositionIntervalMs: number
}

export const DEFAULT_SERVING_LIMITS: Readonly<ServingLimits> = {
  uploadSlots: 3,
  maxActiveReadsPerPeer: 2,
  maxWaitingReadsPerPeer: 48,
  smallReadSlots: 64,
  maxRequestsPerPeer: 64,
  maxWatchesPerPeer: 4,
  uploadBytesPerSecond: 0,
  uploadBytesPerSecondPerPeer: 0,
  requestTimeoutMs: 10_000,
  stallTimeoutMs: 30_000,
  queuePositionIntervalMs: 1000,
}

/** The serving limits that can change while serving (`RequestServer.setLimits`). */
export type LiveServingLimits = Pick<
  ServingLimits,
  'uploadSlots' | 'maxActiveReadsPerPeer' | 'uploadBytesPerSecond' | 'uploadBytesPerSecondPerPeer'
>
