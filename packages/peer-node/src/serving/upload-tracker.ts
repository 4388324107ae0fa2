import type { ApiUpload } from '@harddrive-party/wire-protocol'
/**
 * A peer reading one of our files: waiting for an upload slot, being sent, or recently ended.
 * The control API's `ApiUpload` is its source, field for field (the API sends it as it is).
 */
export type Upload = ApiUpload

/** Where one upload stands. */
export type UploadState = Upload['state']

export interface UploadTrackerOptions {
  /** Display name of a hex key (a peer's animal name). */
  peerName: (hex: string) => string
  /** Every change: state changes at once, byte progress at most once per `progressIntervalMs`. */
  onChange: (upload: Upload) => void
  /** Default 250 (≤ 4 progress events a second per upload). */
  progressIntervalMs?: number
  /** Ended uploads kept for `list()`. Default 32. */
  keepEnded?: number
}

/** One upload as `serveRead` reports it. Every method after `end` does nothing. */
export interface UploadHandle {
  queued(position: number): void
  active(): void
  sent(bytes: number): void
  end(state: 'done' | 'failed' | 'cancelled', error?: string): void
}

/** A peer's display name is looked up again after this long. */
const NAME_TTL_MS = 1000

/** Speed is measured over this window. */
const SPEED_WINDOW_MS = 2000

/**
 * The uploads in progress and the last few ended, for the node's `uploads()` and its `upload`
 * events. Memory is bounded by the reads being served (the request server's limits) plus
 * `keepEnded`.
 */
export class UploadTracker {
  readonly #o: Required<UploadTrackerOptions>
  readonly #live = new Map<string, Upload>()
  #ended: Upload[] = []
  #next = 1
  readonly #names = new Map<string, { name: string; at: number }>()

  constructor(options: UploadTrackerOptions) {
    this.#o = { progressIntervalMs: 250, keepEnded: 32, ...options }
  }

  /** In progress (queued first, then by start), then ended (newest first). */
  list(): Upload[] {
    const live = [...this.#live.values()].sort(
      (a, b) => rank(a) - rank(b) || a.startedAt - b.startedAt,
    )
    return [...live, ...this.#ended].map((u) => ({ ...u }))
  }

  begin(
    peer: string,
    path: string,
    range: { size: number; offset: number; length: number },
  ): UploadHandle {
    // A read of no bytes from a non-empty file is a downloader checking the file has not changed
    // before it renames its copy (size and mtime), not an upload: listing it showed users a
    // finished upload of nothing. An empty file is still listed: it is what was downloaded.
    if (range.length === 0 && range.size > 0) return NOT_AN_UPLOAD
    const now = Date.now()
    const upload: Upload = {
      id: `u${this.#next++}`,
      peer,
      peerName: this.#peerName(peer, now),
      path,
      ...range,
      bytes: 0,
      bytesPerSecond: 0,
      state: 'queued',
      startedAt: now,
      updatedAt: now,
    }
    this.#live.set(upload.id, upload)
    return this.#handle(upload)
  }

  /**
   * A peer's display name, worked out again at most once a second: a folder of small files is
   * thousands of uploads a second, and a name depends on every peer known (collisions).
   */
  #peerName(peer: string, now: number): string {
    const known = this.#names.get(peer)
    if (known !== undefined && now - known.at < NAME_TTL_MS) return known.name
    if (this.#names.size > 256) this.#names.clear()
    const name = this.#o.peerName(peer)
    this.#names.set(peer, { name, at: now })
    return name
  }

  #handle(upload: Upload): UploadHandle {
    let ended = false
    let lastEmit = 0
    let activeAt = 0
    const samples: Array<{ at: number; bytes: number }> = []
    const emit = () => {
      upload.updatedAt = Date.now()
      lastEmit = performance.now()
      this.#o.onChange({ ...upload })
    }
    return {
      queued: (position) => {
        if (ended || upload.state !== 'queued' || upload.queuePosition === position) return
        upload.queuePosition = position
        emit()
      },
      active: () => {
        if (ended) return
        upload.state = 'active'
        delete upload.queuePosition
        activeAt = performance.now()
        samples.push({ at: activeAt, bytes: 0 })
        emit()
      },
      sent: (bytes) => {
        if (ended) return
        upload.bytes += bytes
        const now = performance.now()
        if (now - lastEmit < this.#o.progressIntervalMs) return
        samples.push({ at: now, bytes: upload.bytes })
        while (samples.length > 2 && now - (samples[1] as { at: number }).at > SPEED_WINDOW_MS)
          samples.shift()
        const first = samples[0] as { at: number; bytes: number }
        const seconds = (now - first.at) / 1000
        upload.bytesPerSecond = seconds > 0 ? Math.round((upload.bytes - first.bytes) / seconds) : 0
        emit()
      },
      end: (state, error) => {
        if (ended) return
        ended = true
        upload.state = state
        delete upload.queuePosition
        if (error !== undefined) upload.error = error.slice(0, 1024)
        const seconds = activeAt > 0 ? (performance.now() - activeAt) / 1000 : 0
        upload.bytesPerSecond = seconds > 0 ? Math.round(upload.bytes / seconds) : 0
        upload.finishedAt = Date.now()
        this.#live.delete(upload.id)
        this.#ended.unshift(upload)
        if (this.#ended.length > this.#o.keepEnded) this.#ended.length = this.#o.keepEnded
        emit()
      },
    }
  }
}

const NOT_AN_UPLOAD: UploadHandle = {
  queued: () => {},
  active: () => {},
  sent: () => {},
  end: () => {},
}

function rank(u: Upload): number {
  return u.state === 'queued' ? 0 : 1
}
