import { mkdir } from 'node:fs/promises'
import { homedir } from 'node:os'
import { join } from 'node:path'
import type { IndexWishlist, WishlistFile, WishlistRequest } from '@harddrive-party/index-store'
import type { Logger } from '@harddrive-party/wire-protocol'
import { isSharePath } from '@harddrive-party/wire-protocol'
import { TypedEventEmitter } from 'main-event'
import { PeerNodeError } from '../errors'
import type { PeerClient } from '../remote/peer-client'
import { DownloadEngine } from './download-engine'
import type {
  DownloadAddOptions,
  DownloadEvents,
  DownloadFile,
  DownloadLimits,
  DownloadOptions,
  DownloadQueueStatus,
  DownloadRequest,
  Downloads,
} from './download-types'
import { localName, PART_SUFFIX } from './local-path'
import { bytesOnDisk, removePart } from './part-file'
import { ProgressMeter } from './progress-meter'

/** `~/Downloads/harddrive-party`. */
export function defaultDownloadDir(): string {
  return join(homedir(), 'Downloads', 'harddrive-party')
}

export interface DownloadsDeps {
  wishlist: IndexWishlist
  downloadDir: string
  client: (peer: string) => PeerClient | undefined
  /** The name a peer's folder gets (its display name now). */
  peerName: (peer: string) => string
  options: DownloadOptions
  log: Logger
}

/** `node.downloads`: the queue's public face over the wishlist, and the engine that runs it. */
export class DownloadsImpl extends TypedEventEmitter<DownloadEvents> implements Downloads {
  readonly #d: DownloadsDeps
  readonly #engine: DownloadEngine
  readonly #meter: ProgressMeter
  #adding: Promise<unknown> = Promise.resolve()
  /** Requests changed this turn, and whether they were removed (see `#changed`). */
  readonly #changes = new Map<string, boolean>()
  readonly #onChange = (e: CustomEvent<{ id: string; removed: boolean }>) => this.#changed(e.detail)

  constructor(deps: DownloadsDeps) {
    super()
    this.#d = deps
    const o = deps.options
    this.#meter = new ProgressMeter(
      o.progressIntervalMs ?? 250,
      (id) => this.#request(id),
      (detail) => this.safeDispatchEvent('download:progress', { detail }),
    )
    this.#engine = new DownloadEngine({
      wishlist: deps.wishlist,
      client: deps.client,
      readsPerPeer: o.readsPerPeer ?? 4,
      listPageSize: o.listPageSize ?? 1000,
      limits: { bytesPerSecond: 0, bytesPerSecondPerPeer: 0, ...o.limits },
      log: deps.log,
      onBytes: (file, bytes) => this.#meter.bytes(file, bytes),
      onQueued: (file, position) => this.#meter.queued(file, position),
      onFile: (detail) => this.safeDispatchEvent('download:file', { detail }),
      onError: (detail) => this.safeDispatchEvent('download:error', { detail }),
      onHalt: () => this.safeDispatchEvent('download:queue', { detail: this.status() }),
    })
  }

  start(): void {
    this.#d.wishlist.addEventListener('change', this.#onChange)
    this.#engine.pump()
  }

  async stop(): Promise<void> {
    this.#d.wishlist.removeEventListener('change', this.#onChange)
    this.#changes.clear()
    await this.#engine.stop()
    this.#meter.stop()
  }

  /**
   * Whether a download from `peer` (hex key) runs now with no rate limit of ours under
   * `bytesPerSecond` (the carrier move's question: is the connection, not us, the brake?).
   */
  runsUnlimited(peer: string, bytesPerSecond: number): boolean {
    const { bytesPerSecond: all, bytesPerSecondPerPeer: each } = this.#engine.limits
    const limited = (limit: number) => limit > 0 && limit < bytesPerSecond
    return this.#engine.busyWith(peer) && !limited(all) && !limited(each)
  }

  /** A peer connected (or left): its requests may run (or wait) now. */
  peerChanged(): void {
    this.#engine.pump()
  }

  /**
   * A request changed. Its `download:change` goes out once per event-loop turn with the
   * request as it is then: the download loops change a request many times a turn (each claim
   * and each durable batch), and each event reads the row again.
   */
  #changed({ id, removed }: { id: string; removed: boolean }): void {
    if (removed) this.#meter.forget(id)
    const first = this.#changes.size === 0
    this.#changes.set(id, (this.#changes.get(id) ?? false) || removed)
    if (first) setImmediate(() => this.#announce())
    this.#engine.pump()
  }

  #announce(): void {
    const changes = [...this.#changes]
    this.#changes.clear()
    for (const [id, removed] of changes) {
      // The store may have closed since (the node stopped): nothing to announce then.
      let row: WishlistRequest | undefined
      try {
        row = this.#d.wishlist.get(id)
      } catch {
        return
      }
      if (row !== undefined)
        this.safeDispatchEvent('download:change', {
          detail: { request: this.#toRequest(row), removed },
        })
    }
  }

  #request(id: string): DownloadRequest | undefined {
    const row = this.#d.wishlist.get(id)
    return row === undefined ? undefined : this.#toRequest(row)
  }

  async add(
    peer: string | Uint8Array,
    remotePath: string,
    options: DownloadAddOptions = {},
  ): Promise<DownloadRequest> {
    const hex = typeof peer === 'string' ? peer.toLowerCase() : Buffer.from(peer).toString('hex')
    if (!/^[0-9a-f]{64}$/.test(hex))
      throw new PeerNodeError('INVALID_OPTIONS', 'a peer key is 64 hex characters')
    if (!isSharePath(remotePath) || remotePath === '') {
      throw new PeerNodeError(
        'BAD_PATH',
        `${JSON.stringify(remotePath)} is not a share path below the root`,
      )
    }
    // One add at a time: two adds of one path at once must still find each other.
    const added = this.#adding.then(() => this.#addChecked(hex, remotePath, options))
    this.#adding = added.catch(() => undefined)
    return added
  }

  async #addChecked(
    hex: string,
    remotePath: string,
    options: DownloadAddOptions,
  ): Promise<DownloadRequest> {
    if (options.id === undefined) {
      // The same path again while it is unfinished is the same download (a second request
      // would fetch every file twice); a paused one is asked for again, so it resumes.
      const unfinished = await this.#unfinished(hex, remotePath)
      if (unfinished?.state === 'paused') return this.resume(unfinished.id)
      if (unfinished !== undefined) return this.#toRequest(unfinished)
    }
    // The peer's folder name is ours: made safe like any name, fixed for the request's life.
    const folder = localName(this.#d.peerName(hex), this.#d.peerName(hex)).segments[0]!
    const destination = join(this.#d.downloadDir, folder)
    await mkdir(this.#d.downloadDir, { recursive: true })
    const row = await this.#d.wishlist.add({
      peer: hex,
      path: remotePath,
      dir: true,
      expand: true,
      destination,
      ...(options.id !== undefined ? { id: options.id } : {}),
      ...(options.position !== undefined ? { position: options.position } : {}),
    })
    return this.#toRequest(row)
  }

  async #unfinished(peer: string, path: string): Promise<WishlistRequest | undefined> {
    for await (const row of this.#d.wishlist.list())
      if (row.peer === peer && row.path === path && row.state !== 'done' && row.state !== 'failed')
        return row
    return undefined
  }

  async list(): Promise<DownloadRequest[]> {
    const out: DownloadRequest[] = []
    for await (const row of this.#d.wishlist.list()) out.push(this.#toRequest(row))
    return out
  }

  get(id: string): DownloadRequest | undefined {
    return this.#request(id)
  }

  async files(
    id: string,
    options: { offset?: number; limit?: number } = {},
  ): Promise<DownloadFile[]> {
    const row = this.#mustGet(id)
    const offset = Math.max(0, options.offset ?? 0)
    const limit = Math.max(0, options.limit ?? 1000)
    const out: DownloadFile[] = []
    for await (const f of this.#d.wishlist.files(id)) {
      if (f.index < offset) continue
      if (out.length >= limit) break
      out.push(await this.#toFile(row, f))
    }
    return out
  }

  async file(id: string, index: number): Promise<DownloadFile | undefined> {
    const row = this.#d.wishlist.get(id)
    if (row === undefined) return undefined
    for await (const f of this.#d.wishlist.files(id)) {
      if (f.index === index) return this.#toFile(row, f)
      if (f.index > index) break
    }
    return undefined
  }

  async pause(id: string): Promise<DownloadRequest> {
    this.#mustGet(id)
    const row = await this.#d.wishlist.pause(id)
    await this.#engine.stopRequest(id)
    return this.#toRequest(row)
  }

  async resume(id: string): Promise<DownloadRequest> {
    this.#mustGet(id)
    return this.#toRequest(await this.#d.wishlist.resume(id))
  }

  async cancel(id: string): Promise<boolean> {
    const row = this.#d.wishlist.get(id)
    if (row === undefined) return false
    await this.#d.wishlist.pause(id).catch(() => undefined)
    await this.#engine.stopRequest(id)
    const parts: string[] = []
    for await (const f of this.#d.wishlist.files(id)) {
      if (f.state !== 'done') parts.push(this.#localPath(row, f.path))
    }
    const removed = await this.#d.wishlist.cancel(id)
    for (const path of parts) await removePart(path).catch(() => undefined)
    return removed
  }

  async reorder(id: string, position: number): Promise<DownloadRequest> {
    this.#mustGet(id)
    return this.#toRequest(await this.#d.wishlist.reorder(id, position))
  }

  setLimits(limits: Partial<DownloadLimits>): void {
    for (const [key, value] of Object.entries(limits)) {
      if (typeof value !== 'number' || !(value >= 0)) {
        throw new PeerNodeError('INVALID_OPTIONS', `${key} must be a number >= 0 (0: unlimited)`)
      }
    }
    this.#engine.setLimits(limits)
    this.safeDispatchEvent('download:queue', { detail: this.status() })
  }

  status(): DownloadQueueStatus {
    const halted = this.#engine.halted
    return halted === undefined
      ? { halted: false, limits: this.#engine.limits }
      : { halted: true, reason: halted, limits: this.#engine.limits }
  }

  resumeQueue(): void {
    this.#engine.resumeQueue()
  }

  #mustGet(id: string): WishlistRequest {
    const row = this.#d.wishlist.get(id)
    if (row === undefined)
      throw new PeerNodeError('UNKNOWN_DOWNLOAD', `no download ${JSON.stringify(id)}`)
    return row
  }

  /** Where a remote path lands (its raw join when the name is refused: nothing is written there). */
  #localPath(row: WishlistRequest, path: string): string {
    try {
      return join(row.destination, ...localName(path, row.path).segments)
    } catch {
      return join(row.destination, path)
    }
  }

  async #toFile(row: WishlistRequest, f: WishlistFile): Promise<DownloadFile> {
    const localPath =
      this.#engine.locals.get(`${f.requestId}/${f.index}`) ?? this.#localPath(row, f.path)
    const disk = f.state === 'done' ? { bytes: f.size } : await bytesOnDisk(localPath)
    const out: DownloadFile = {
      requestId: f.requestId,
      index: f.index,
      path: f.path,
      localPath,
      partPath: localPath + PART_SUFFIX,
      size: f.size,
      state: f.state,
      bytesOnDisk: disk.bytes,
    }
    if (f.mtime !== undefined) out.mtime = f.mtime
    if (f.reason !== undefined) out.reason = f.reason
    return out
  }

  #toRequest(row: WishlistRequest): DownloadRequest {
    let state: DownloadRequest['state'] = row.state
    let reason = row.reason
    const halted = this.#engine.halted
    if (state === 'queued' || state === 'active') {
      if (halted !== undefined) {
        state = 'paused'
        reason = halted
      } else if (this.#d.client(row.peer) === undefined) state = 'waiting'
    }
    const out: DownloadRequest = {
      id: row.id,
      peer: row.peer,
      peerName: row.destination.split(/[\\/]/).at(-1) ?? '',
      path: row.path,
      dir: row.dir,
      localPath: this.#localPath(row, row.path),
      state,
      size: row.size,
      files: row.files,
      filesDone: row.filesDone,
      filesFailed: row.filesFailed,
      bytesDone: row.bytesDone,
      expanding: row.expanding,
      createdAt: row.createdAt,
      updatedAt: row.updatedAt,
    }
    if (reason !== undefined) out.reason = reason
    if (row.code === 'NOT_FOUND' || row.code === 'EMPTY') out.code = row.code
    if (row.position !== undefined) out.position = row.position
    if (row.finishedAt !== undefined) out.finishedAt = row.finishedAt
    return out
  }
}
