import type { Logger } from '@harddrive-party/wire-protocol'

const PROGRESS_INTERVAL_MS = 200

export interface ScanProgressEvent {
  type: 'index-store:scan'
  share: string
  /** Directories finished so far in this share. */
  dirs: number
  /** Files seen so far in this share. */
  files: number
  bytes: number
  skipped: number
  done: boolean
}

export interface ShareScanSummary {
  share: string
  /** Totals of the share after the scan. */
  dirs: number
  files: number
  bytes: number
  /** Directories read with `readdir` (new, changed, or all of them with `full`). */
  listed: number
  /** Directories trusted from their unchanged mtime (only their subdirectories were stat'ed). */
  unchanged: number
  /** Directories whose listing changed and was written. */
  changed: number
  /** Directories that disappeared and were removed from the index. */
  removed: number
  /** Entries refused (unreadable, vanished, not UTF-8, unsafe name, symlink out...). */
  skipped: number
  /** Entries matched by an ignore rule. */
  ignored: number
  /** Set when the share's root could not be scanned; its index is then left untouched. */
  error?: string
}

export function emptySummary(share: string): ShareScanSummary {
  return {
    share,
    dirs: 0,
    files: 0,
    bytes: 0,
    listed: 0,
    unchanged: 0,
    changed: 0,
    removed: 0,
    skipped: 0,
    ignored: 0,
  }
}

/**
 * Running totals of one share's scan, told to `onProgress` at most every 200 ms and once at
 * the end. A throwing callback is logged, never allowed to break the scan.
 */
export class ScanProgress {
  dirs = 0
  files = 0
  bytes = 0
  readonly #share: string
  readonly #onProgress: ((event: ScanProgressEvent) => void) | undefined
  readonly #log: Logger
  #last = 0

  constructor(
    share: string,
    onProgress: ((event: ScanProgressEvent) => void) | undefined,
    log: Logger,
  ) {
    this.#share = share
    this.#onProgress = onProgress
    this.#log = log
  }

  report(skipped: number, done: boolean): void {
    const onProgress = this.#onProgress
    if (onProgress === undefined) return
    const now = Date.now()
    if (!done && now - this.#last < PROGRESS_INTERVAL_MS) return
    this.#last = now
    try {
      onProgress({
        type: 'index-store:scan',
        share: this.#share,
        dirs: this.dirs,
        files: this.files,
        bytes: this.bytes,
        skipped,
        done,
      })
    } catch (err) {
      this.#log.error('onProgress threw: %O', err)
    }
  }
}
