import { setMaxListeners } from 'node:events'
import type { IndexWishlist, WishlistFile, WishlistRequest } from '@harddrive-party/index-store'
import type { Logger } from '@harddrive-party/wire-protocol'
import { describeError } from '../errors'
import type { PeerClient } from '../remote/peer-client'
import { TokenBucket } from '../serving/rate-limit'
import { type ClaimedBatch, ClaimedBatches } from './claimed-batches'
import type { DownloadErrorEvent, DownloadFileEvent, DownloadLimits } from './download-types'
import { type CompletedFile, DurableBatch } from './durable-batch'
import { classify, HELD_FILE_BYTES, type TransferOutcome, transferFile } from './file-transfer'
import { type ExpandFailureCode, expandRequest } from './folder-expander'
import { transferMany, usesReadMany } from './many-transfer'
import { SmallFileWriter } from './small-file-writer'

export interface EngineOptions {
  wishlist: IndexWishlist
  /** A client for a connected peer (hex key); undefined while it is not connected. */
  client: (peer: string) => PeerClient | undefined
  readsPerPeer: number
  listPageSize: number
  limits: DownloadLimits
  log: Logger
  onBytes: (file: WishlistFile, bytesOnDisk: number) => void
  onQueued: (file: WishlistFile, position: number) => void
  onFile: (event: DownloadFileEvent) => void
  onError: (event: DownloadErrorEvent) => void
  onHalt: (reason: string | undefined) => void
}

/** A claimed batch: small files of one request fetched at once, within the peer's request limits. */
const BATCH_FILES = 12
const BATCH_BYTES = 1024 * 1024
/**
 * A batch for a peer that answers `read-many`: one request for all its small files, so larger
 * batches mean fewer claims, requests, and messages to the serving peer's reading thread.
 */
const READ_MANY_BATCH_FILES = 64
/**
 * Completed files are made durable (fsync, rename, folder fsync) and recorded together: at most
 * this many at once, at most this long after the first (see `durable-batch.ts`).
 */
const DURABLE_BATCH_FILES = 128
const DURABLE_BATCH_MS = 30
/** A transfer stopped by pause or cancel: its file goes back to the queue, nothing more. */
const ABORTED: TransferOutcome = { kind: 'retry', reason: 'stopped' }

/** After a transfer could not go on (peer busy or gone, stream broken), its peer rests this long. */
const RETRY_MS = 1000

/**
 * Runs the queue: per connected peer, up to `readsPerPeer` transfers at once (pipelined: small
 * files do not wait a round trip each), each claiming its next file from the wishlist, plus one
 * listing per expanding request. Peers run in parallel. Woken by wishlist changes, connections
 * and timers; a peer that is not connected is simply not run, and its requests wait.
 */
export class DownloadEngine {
  readonly #o: EngineOptions
  readonly #workers = new Map<string, number>()
  readonly #expanding = new Set<string>()
  readonly #restUntil = new Map<string, number>()
  /** Where each active file's bytes go (`requestId/index` → final path). */
  readonly locals = new Map<string, string>()
  readonly #abort = new AbortController()
  readonly #running = new Set<Promise<void>>()
  #global: TokenBucket
  readonly #perPeer = new Map<string, TokenBucket>()
  #limits: DownloadLimits
  #halted: string | undefined
  #pumpQueued = false
  #timer: NodeJS.Timeout | undefined
  readonly #durable: DurableBatch
  /** Claimed batches by request, so pause and cancel stop theirs. */
  readonly #batches: ClaimedBatches
  /** Writes the small files held in memory (see `file-transfer.ts`, `durable-batch.ts`). */
  readonly #writer = new SmallFileWriter()
  readonly #folders = new Set<string>()
  /** Each running request's path (see `#basePath`). */
  readonly #bases = new Map<string, string>()

  constructor(options: EngineOptions) {
    this.#o = options
    this.#limits = options.limits
    this.#global = new TokenBucket(options.limits.bytesPerSecond)
    this.#batches = new ClaimedBatches(options.wishlist)
    this.#durable = new DurableBatch({
      maxFiles: DURABLE_BATCH_FILES,
      maxDelayMs: DURABLE_BATCH_MS,
      onDurable: (files) => this.#recordDone(files),
      onFailed: (c, err) => this.#record(c.file.peer, c.file, classify(err)),
      onError: (err) => this.#logError(err),
      writer: this.#writer,
    })
  }

  get halted(): string | undefined {
    return this.#halted
  }

  get limits(): DownloadLimits {
    return { ...this.#limits }
  }

  setLimits(limits: Partial<DownloadLimits>): void {
    this.#limits = { ...this.#limits, ...limits }
    this.#global = new TokenBucket(this.#limits.bytesPerSecond)
    this.#perPeer.clear()
  }

  /** Whether download loops run for `peer` now (none while its requests are paused or done). */
  busyWith(peer: string): boolean {
    return (this.#workers.get(peer) ?? 0) > 0 && this.#halted === undefined
  }

  resumeQueue(): void {
    if (this.#halted === undefined) return
    this.#halted = undefined
    this.#o.onHalt(undefined)
    this.pump()
  }

  /** Looks for work soon (many wake-ups in one tick make one pass). */
  pump(): void {
    if (this.#pumpQueued || this.#abort.signal.aborted) return
    this.#pumpQueued = true
    setImmediate(() => {
      this.#pumpQueued = false
      this.#track(this.#pass())
    })
  }

  /**
   * Stops a request's transfers (pause, cancel) and waits until their files are closed and the
   * completed ones are in place and recorded.
   */
  async stopRequest(id: string): Promise<void> {
    this.#bases.delete(id)
    await this.#batches.stop(id)
    await this.#durable.flush().catch(() => undefined) // its failures went to onFailed/onError
  }

  async stop(): Promise<void> {
    this.#abort.abort()
    if (this.#timer) clearTimeout(this.#timer)
    while (this.#running.size > 0) await Promise.allSettled([...this.#running])
    await this.#durable.flush().catch((err: unknown) => this.#logError(err))
    await this.#writer.close()
  }

  #logError(err: unknown): void {
    this.#o.log.error('downloads: %s', describeError(err))
  }

  #track(work: Promise<void>): void {
    const p = work.catch((err: unknown) => this.#o.log.error('downloads: %s', describeError(err)))
    this.#running.add(p)
    void p.finally(() => this.#running.delete(p))
  }

  async #pass(): Promise<void> {
    if (this.#halted !== undefined || this.#abort.signal.aborted) return
    const now = Date.now()
    let nextRest = Number.POSITIVE_INFINITY
    const requests: WishlistRequest[] = []
    for await (const r of this.#o.wishlist.list()) requests.push(r)
    const peers = new Set<string>()
    for (const request of requests) {
      if (request.state === 'done' || request.state === 'failed' || request.state === 'paused') {
        continue
      }
      const client = this.#o.client(request.peer)
      if (client === undefined) continue
      const rest = this.#restUntil.get(request.peer) ?? 0
      if (rest > now) {
        nextRest = Math.min(nextRest, rest)
        continue
      }
      if (request.expanding && !this.#expanding.has(request.id)) this.#expand(client, request)
      if (request.filesDone + request.filesFailed < request.files) peers.add(request.peer)
    }
    for (const peer of peers) {
      const client = this.#o.client(peer)
      if (client === undefined) continue
      while ((this.#workers.get(peer) ?? 0) < this.#o.readsPerPeer) {
        this.#workers.set(peer, (this.#workers.get(peer) ?? 0) + 1)
        this.#track(this.#worker(peer, client))
      }
    }
    if (Number.isFinite(nextRest)) {
      if (this.#timer) clearTimeout(this.#timer)
      this.#timer = setTimeout(() => this.pump(), Math.max(10, nextRest - now))
      this.#timer.unref()
    }
  }

  #expand(client: PeerClient, request: WishlistRequest): void {
    this.#expanding.add(request.id)
    // A request's folders may have been removed since an earlier one made them (a person
    // deleted a download to fetch it again): each request looks at them anew.
    this.#folders.clear()
    const context = {
      wishlist: this.#o.wishlist,
      pageSize: this.#o.listPageSize,
      signal: this.#abort.signal,
      onRefused: (path: string, why: string) =>
        this.#o.onError({ requestId: request.id, path, code: 'EXPAND', message: why }),
      onNothing: (code: ExpandFailureCode, why: string) =>
        this.#o.onError({ requestId: request.id, path: request.path, code, message: why }),
    }
    this.#track(
      expandRequest(context, client, request)
        .catch((err: unknown) => {
          if (this.#abort.signal.aborted) return
          this.#o.onError({ requestId: request.id, code: 'EXPAND', message: describeError(err) })
          this.#rest(request.peer)
        })
        .finally(() => {
          this.#expanding.delete(request.id)
        }),
    )
  }

  #rest(peer: string): void {
    this.#restUntil.set(peer, Date.now() + RETRY_MS)
    this.pump()
  }

  /**
   * One of a peer's download loops: claims a batch (one file, or up to 12 small ones of one
   * request, 1 MiB in all), transfers its files at once (pipelined), hands the completed ones
   * to the durable batch (which records them), and claims again until nothing is left for
   * this peer. While a batch of small files transfers, the next one is claimed already: the
   * claim's transaction would otherwise leave the loop (and the peer) idle between batches.
   */
  async #worker(peer: string, client: PeerClient): Promise<void> {
    let next: Promise<ClaimedBatch> | undefined
    const batchFiles = usesReadMany(client) ? READ_MANY_BATCH_FILES : BATCH_FILES
    try {
      while (!this.#abort.signal.aborted && this.#halted === undefined) {
        if (this.#o.client(peer) !== client) return // reconnected: the next pass makes new workers
        if ((this.#restUntil.get(peer) ?? 0) > Date.now()) return
        const batch = await (next ?? this.#batches.claim(peer, batchFiles, BATCH_BYTES))
        next = undefined
        if (batch.files.length === 0) return
        if (batch.files.every((f) => f.size <= HELD_FILE_BYTES))
          next = this.#batches.claim(peer, batchFiles, BATCH_BYTES)
        if (batch.state === 'dropped') continue // paused or cancelled while it waited
        batch.state = 'running'
        await this.#runBatch(peer, client, batch)
      }
    } finally {
      this.#workers.set(peer, (this.#workers.get(peer) ?? 1) - 1)
      // Claimed ahead and not needed now: back to the queue.
      const ahead = await next?.catch(() => undefined)
      if (ahead !== undefined) await this.#batches.drop(ahead)
    }
  }

  /** A request's path (fixed for its life), without a read of its row for each batch. */
  #basePath(file: WishlistFile): string {
    let path = this.#bases.get(file.requestId)
    if (path === undefined) {
      path = this.#o.wishlist.get(file.requestId)?.path ?? file.path
      if (this.#bases.size >= 1024) this.#bases.clear()
      this.#bases.set(file.requestId, path)
    }
    return path
  }

  async #runBatch(peer: string, client: PeerClient, batch: ClaimedBatch): Promise<void> {
    const { wishlist } = this.#o
    const { files, abort } = batch
    try {
      const base = this.#basePath(files[0]!)
      // A batch is files of one request: pause and cancel stop them together.
      const signal = AbortSignal.any([this.#abort.signal, abort.signal])
      setMaxListeners(BATCH_FILES * 4, signal)
      const context = this.#context(peer, signal)
      // A batch of small files from a 1.1 peer is one request; otherwise a read per file.
      const many = usesReadMany(client) ? transferMany(context, client, files, base) : undefined
      // Each file is handed on as soon as it is complete, not when its batch is.
      await Promise.all(
        files.map(async (file, i) => {
          const transfer = many?.[i] ?? transferFile(context, client, file, base)
          const outcome = await this.#settled(file, transfer, abort)
          if (outcome === ABORTED) {
            await wishlist.release(file.requestId, file.index).catch(() => undefined)
          } else if (outcome.kind === 'done') {
            const { localPath, part, bytes } = outcome
            await this.#durable.add({
              file,
              localPath,
              ...(part !== undefined && { part }),
              ...(bytes !== undefined && { bytes }),
            })
          } else await this.#record(peer, file, outcome)
        }),
      )
    } finally {
      this.#batches.handled(batch)
    }
  }

  /** Files in place and durable: recorded done in one transaction, then announced. */
  async #recordDone(files: CompletedFile[]): Promise<void> {
    const { wishlist } = this.#o
    const refs = files.map((c) => c.file)
    await wishlist.completeMany(refs).catch(async () => {
      // A request was cancelled meanwhile: record the others one by one.
      for (const f of refs) await wishlist.complete(f.requestId, f.index).catch(() => undefined)
    })
    for (const c of files) this.#o.onFile({ ...fileRef(c.file, c.localPath), outcome: 'done' })
  }

  /** A file's transfer as it ended (a stop makes it {@link ABORTED}). */
  async #settled(
    file: WishlistFile,
    transfer: Promise<TransferOutcome>,
    abort: AbortController,
  ): Promise<TransferOutcome> {
    const outcome = await transfer.catch(
      (err: unknown): TransferOutcome => ({ kind: 'retry', reason: describeError(err) }),
    )
    this.locals.delete(`${file.requestId}/${file.index}`)
    return abort.signal.aborted && outcome.kind !== 'done' ? ABORTED : outcome
  }

  #context(peer: string, signal: AbortSignal) {
    return {
      wishlist: this.#o.wishlist,
      folders: this.#folders,
      holdSmallFiles: !this.#writer.broken,
      signal,
      buckets: () => [this.#global, this.#peerBucket(peer)],
      onBytes: this.#o.onBytes,
      onQueued: this.#o.onQueued,
      onLocal: (file: WishlistFile, path: string) =>
        this.locals.set(`${file.requestId}/${file.index}`, path),
      onRestart: (file: WishlistFile, why: string) => {
        this.#o.onFile({ ...fileRef(file, ''), outcome: 'restarted', reason: why })
        this.#o.onError({
          requestId: file.requestId,
          path: file.path,
          code: 'CHANGED',
          message: why,
        })
      },
    }
  }

  #peerBucket(peer: string): TokenBucket {
    let bucket = this.#perPeer.get(peer)
    if (bucket === undefined) {
      bucket = new TokenBucket(this.#limits.bytesPerSecondPerPeer)
      this.#perPeer.set(peer, bucket)
    }
    return bucket
  }

  async #record(peer: string, file: WishlistFile, outcome: TransferOutcome): Promise<void> {
    const { wishlist } = this.#o
    const { requestId, index } = file
    // The request may have been cancelled or paused meanwhile: its rows say what is left to do.
    const still = async (change: () => Promise<unknown>) => change().catch(() => undefined)
    switch (outcome.kind) {
      case 'done':
        return // recorded in its batch
      case 'failed':
        await still(() => wishlist.fail(requestId, index, outcome.reason))
        this.#o.onFile({ ...fileRef(file, ''), outcome: 'failed', reason: outcome.reason })
        this.#o.onError({
          requestId,
          path: file.path,
          code: outcome.unsafeName ? 'UNSAFE_NAME' : 'REMOTE',
          message: outcome.reason,
        })
        return
      case 'retry':
        // Looked at again: a folder made for an earlier file may have been removed meanwhile
        // (the writer's open of a held file's part, or a part's open, then fails ENOENT).
        this.#folders.clear()
        await still(() => wishlist.release(requestId, index))
        if (this.#abort.signal.aborted) return
        this.#o.log('%s: %s; again in %d ms', file.path, outcome.reason, RETRY_MS)
        this.#rest(peer)
        return
      case 'disk-full':
        await still(() => wishlist.release(requestId, index))
        this.#halted = `the download disk is full: ${outcome.reason}`
        this.#o.onError({ requestId, path: file.path, code: 'DISK_FULL', message: this.#halted })
        this.#o.onHalt(this.#halted)
        return
    }
  }
}

function fileRef(file: WishlistFile, localPath: string) {
  return { requestId: file.requestId, index: file.index, path: file.path, localPath }
}
