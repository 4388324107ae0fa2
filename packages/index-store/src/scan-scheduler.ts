import type { Logger } from '@harddrive-party/wire-protocol'
import { limits } from '@harddrive-party/wire-protocol'
import type { IndexTree, ShareRow } from './index-tree'
import { DirectoryReader, type ReaderConfig } from './read-directory'
import type { ScanReaders } from './scan-job-queue'
import type { ScanProgressEvent, ShareScanSummary } from './scan-report'
import { type DirRunner, InlineRunner, WorkerRunner } from './scan-runner'
import { ShareScan } from './share-scan'

export interface ScanSchedulerConfig {
  /** Worker threads reading directories; 0 scans on the main thread. */
  threads: number
  ignore: readonly string[] | undefined
  defaultIgnores: boolean
  log: Logger
}

export interface ShareScansOptions {
  full: boolean
  signal: AbortSignal
  onProgress: ((event: ScanProgressEvent) => void) | undefined
}

interface CurrentScan {
  share: string
  controller: AbortController
  done: Promise<unknown>
}

/**
 * Runs share scans one share after the other, keeps the directory readers (worker threads are
 * slow to start) between scans, and stops the scan of a share being removed.
 */
export class ScanScheduler {
  readonly #config: ScanSchedulerConfig
  #current: CurrentScan | undefined
  #readers: ScanReaders | undefined
  #threadsFailed = false

  constructor(config: ScanSchedulerConfig) {
    this.#config = config
  }

  /**
   * Scans the named shares in turn. `rows` is read again before each share: one removed
   * meanwhile is skipped, and one removed during its scan ends that scan without failing.
   */
  async scan(
    tree: IndexTree,
    rows: () => ShareRow[],
    names: readonly string[],
    options: ShareScansOptions,
  ): Promise<ShareScanSummary[]> {
    const { signal } = options
    const log = this.#config.log
    const summaries: ShareScanSummary[] = []
    const readers = await this.#scanReaders()
    for (const name of names) {
      signal.throwIfAborted()
      const row = rows().find((r) => r.name === name)
      if (row === undefined) continue // removed meanwhile
      const controller = new AbortController()
      const scan = new ShareScan(
        tree,
        row,
        readers,
        {
          full: options.full,
          signal: AbortSignal.any([signal, controller.signal]),
          ...(options.onProgress === undefined ? {} : { onProgress: options.onProgress }),
        },
        log,
      )
      const done = scan.run()
      this.#current = { share: name, controller, done }
      try {
        summaries.push(await done)
      } catch (err) {
        if (!controller.signal.aborted || signal.aborted) throw err
        log('share %s was removed during its scan', name)
      } finally {
        this.#current = undefined
      }
    }
    return summaries
  }

  /** Aborts the scan of `name`, if one runs, and waits for it to end. */
  async stopScanOf(name: string): Promise<void> {
    const current = this.#current
    if (current?.share !== name) return
    current.controller.abort(new DOMException(`share ${name} removed`, 'AbortError'))
    await current.done.catch(() => {})
  }

  /** Ends the reader threads. */
  async close(): Promise<void> {
    await this.#readers?.runner.close()
    this.#readers = undefined
  }

  /** The directory readers, made on first use and kept (worker threads are slow to start). */
  async #scanReaders(): Promise<ScanReaders> {
    if (this.#readers !== undefined && !this.#readers.runner.broken) return this.#readers
    void this.#readers?.runner.close()
    const { threads, ignore, defaultIgnores, log } = this.#config
    const config: ReaderConfig = {
      ignore: {
        ...(ignore === undefined ? {} : { globs: ignore }),
        defaults: defaultIgnores,
      },
      maxPathBytes: limits.MAX_PATH_BYTES,
    }
    let runner: DirRunner = new InlineRunner(config)
    if (threads > 0 && !this.#threadsFailed) {
      try {
        const workers = new WorkerRunner(threads, config)
        if (await workers.ready()) runner = workers
        else {
          await workers.close()
          throw new Error('a scan thread did not start (is scan-worker.js next to index.js?)')
        }
      } catch (err) {
        // A bundle without the worker file, or no threads allowed: scan on the main thread.
        this.#threadsFailed = true
        log.error('cannot start scan threads, scanning on the main thread: %O', err)
      }
    }
    this.#readers = { runner, inline: new DirectoryReader(config) }
    return this.#readers
  }
}
