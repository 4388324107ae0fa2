import type { WishlistFile } from '@harddrive-party/index-store'
import type { DownloadProgressEvent, DownloadRequest } from './download-types'

/** Speed is measured over this window. */
const WINDOW_MS = 5000

interface Meter {
  /** The request's id. */
  id: string
  /** Bytes received per file of the request (to count increments from offsets). */
  last: Map<number, number>
  samples: { at: number; bytes: number }[]
  received: number
  /** The latest event, made when it is sent (from the request as it is then). */
  pending: ((request: DownloadRequest) => DownloadProgressEvent) | undefined
  sentAt: number
  timer: NodeJS.Timeout | undefined
}

/**
 * Turns the many progress calls of a transfer into at most one `download:progress` per request
 * every `intervalMs` (the latest wins), with speed over the last seconds and an ETA: a 10 GB
 * transfer does not flood listeners. The request is looked up only for the events sent, not
 * for each call (a folder of small files makes one or two calls per file).
 */
export class ProgressMeter {
  readonly #intervalMs: number
  readonly #emit: (event: DownloadProgressEvent) => void
  readonly #request: (id: string) => DownloadRequest | undefined
  readonly #meters = new Map<string, Meter>()

  constructor(
    intervalMs: number,
    request: (id: string) => DownloadRequest | undefined,
    emit: (event: DownloadProgressEvent) => void,
  ) {
    this.#intervalMs = intervalMs
    this.#request = request
    this.#emit = emit
  }

  bytes(file: WishlistFile, bytesOnDisk: number): void {
    const m = this.#meter(file.requestId)
    const before = m.last.get(file.index) ?? bytesOnDisk
    if (m.last.size > 64) m.last.clear() // only the files in flight matter
    m.last.set(file.index, bytesOnDisk)
    m.received += Math.max(0, bytesOnDisk - before)
    const now = performance.now()
    m.samples.push({ at: now, bytes: m.received })
    while (m.samples.length > 2 && now - m.samples[0]!.at > WINDOW_MS) m.samples.shift()
    const first = m.samples[0]!
    const seconds = (now - first.at) / 1000
    const bytesPerSecond = seconds > 0.2 ? Math.round((m.received - first.bytes) / seconds) : 0
    this.#offer(m, (request) => {
      // bytesDone of the request lags (persisted each second): add what this file got since.
      const bytesDone = Math.min(
        request.size,
        request.bytesDone + Math.max(0, bytesOnDisk - file.bytesDone),
      )
      const event: DownloadProgressEvent = {
        requestId: file.requestId,
        peer: file.peer,
        bytesDone,
        size: request.size,
        filesDone: request.filesDone,
        files: request.files,
        bytesPerSecond,
        file: { index: file.index, path: file.path, bytesOnDisk, size: file.size },
      }
      if (bytesPerSecond > 0 && !request.expanding) {
        event.etaSeconds = Math.ceil((request.size - bytesDone) / bytesPerSecond)
      }
      return event
    })
  }

  queued(file: WishlistFile, position: number): void {
    const m = this.#meter(file.requestId)
    this.#offer(m, (request) => ({
      requestId: file.requestId,
      peer: file.peer,
      bytesDone: request.bytesDone,
      size: request.size,
      filesDone: request.filesDone,
      files: request.files,
      bytesPerSecond: 0,
      queuePosition: position,
    }))
  }

  forget(id: string): void {
    const m = this.#meters.get(id)
    if (m?.timer) clearTimeout(m.timer)
    this.#meters.delete(id)
  }

  stop(): void {
    for (const id of [...this.#meters.keys()]) this.forget(id)
  }

  #meter(id: string): Meter {
    let m = this.#meters.get(id)
    if (m === undefined) {
      m = {
        id,
        last: new Map(),
        samples: [],
        received: 0,
        pending: undefined,
        sentAt: 0,
        timer: undefined,
      }
      this.#meters.set(id, m)
    }
    return m
  }

  #offer(m: Meter, event: (request: DownloadRequest) => DownloadProgressEvent): void {
    m.pending = event
    if (m.timer !== undefined) return
    const wait = Math.max(0, m.sentAt + this.#intervalMs - performance.now())
    m.timer = setTimeout(() => {
      m.timer = undefined
      m.sentAt = performance.now()
      const pending = m.pending
      m.pending = undefined
      const request = pending === undefined ? undefined : this.#request(m.id)
      if (pending !== undefined && request !== undefined) this.#emit(pending(request))
    }, wait)
    m.timer.unref()
  }
}
