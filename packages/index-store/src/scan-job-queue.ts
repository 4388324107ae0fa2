import { IndexStoreError } from './errors'
import type { DirectoryReader, DirResult, ListJob, StatJob, StatResult } from './read-directory'
import type { DirRunner } from './scan-runner'

/** Most directories sent to a thread in one message. */
const MAX_BATCH = 64
/** Most unchanged directories checked on the main thread before yielding to the event loop. */
const STAT_BATCH = 256

/** What reads directories for a scan. */
export interface ScanReaders {
  /** Reads `list` jobs (on worker threads or inline). */
  runner: DirRunner
  /** Answers `stat` jobs (a few lstats each) on the main thread: cheaper than a message. */
  inline: DirectoryReader
}

export interface ScanJobHandlers {
  /** A batch came back from the runner (never called after `close`). */
  results(results: DirResult[]): void
  /** A runner thread failed (never called after `close`). */
  failed(error: IndexStoreError): void
}

/**
 * The directories a scan still has to read, and where they go: `list` jobs in batches to the
 * runner's free slots, `stat` jobs (unchanged directories) answered here on the main thread.
 */
export class ScanJobQueue {
  readonly #readers: ScanReaders
  readonly #handlers: ScanJobHandlers
  readonly #lists: ListJob[] = []
  readonly #stats: StatJob[] = []
  #inflight = 0
  /** Set once the scan is over: late results (after an abort) must not write anything. */
  #closed = false

  constructor(readers: ScanReaders, handlers: ScanJobHandlers) {
    this.#readers = readers
    this.#handlers = handlers
  }

  /** Nothing queued and nothing on a thread. */
  get idle(): boolean {
    return this.#inflight === 0 && this.#lists.length === 0 && this.#stats.length === 0
  }

  get hasStats(): boolean {
    return this.#stats.length > 0
  }

  list(job: ListJob): void {
    this.#lists.push(job)
  }

  stat(job: StatJob): void {
    this.#stats.push(job)
  }

  /** Sends queued `list` jobs to free runner slots. */
  pump(): void {
    const runner = this.#readers.runner
    while (this.#lists.length > 0 && this.#inflight < runner.slots) {
      // Split the queue fairly between free slots, but keep batches large when it is long.
      const share = Math.ceil(this.#lists.length / runner.slots)
      const size = Math.max(1, Math.min(MAX_BATCH, share))
      // LIFO keeps the walk depth-first, so few directories are open (listed, unfinished).
      const batch = this.#lists.splice(this.#lists.length - size, size)
      this.#inflight++
      runner.run(batch).then(
        (results) => {
          this.#inflight--
          if (this.#closed) return
          this.#handlers.results(results)
        },
        (err) => {
          this.#inflight--
          if (this.#closed) return
          this.#handlers.failed(
            new IndexStoreError('SCAN_FAILED', `a scan thread failed: ${String(err)}`, {
              cause: err,
            }),
          )
        },
      )
    }
  }

  /** Answers one batch of queued `stat` jobs, each as the caller takes it. */
  *answerStats(): Generator<StatResult> {
    const batch = this.#stats.splice(Math.max(0, this.#stats.length - STAT_BATCH))
    for (const job of batch) yield this.#readers.inline.stat(job)
  }

  /** Batches still on worker threads finish there; their results are dropped. */
  close(): void {
    this.#closed = true
  }
}
