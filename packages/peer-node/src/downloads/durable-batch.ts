import { open } from 'node:fs/promises'
import { dirname } from 'node:path'
import type { WishlistFile } from '@harddrive-party/index-store'
import { PART_SUFFIX } from './local-path'
import type { PartFile } from './part-file'
import type { SmallFileWriter } from './small-file-writer'

/** A completed transfer waiting to be made durable, then recorded. */
export interface CompletedFile {
  file: WishlistFile
  localPath: string
  /** The complete part, still open; absent when the final file was already in place. */
  part?: PartFile
  /** A small file's bytes, held in memory (no part yet): written with the batch. */
  bytes?: Uint8Array
}

export interface DurableBatchOptions {
  /** A batch is made durable once it holds this many files... */
  maxFiles: number
  /** ...or this long after its first file arrived (when a batch can start then). */
  maxDelayMs: number
  /** Batches on their way to the disk at once. Default 2. */
  maxBatches?: number
  /** Files in place and durable: record them (one transaction), then announce them. */
  onDurable: (files: CompletedFile[]) => Promise<void>
  /** A file could not be made durable or put in place (its part stays: it is retried). */
  onFailed: (file: CompletedFile, err: unknown) => Promise<void>
  /** A batch broke in a way none of the above handled (logged; its files are retried). */
  onError: (err: unknown) => void
  /** Writes the files held in memory (`bytes`), a batch per message. */
  writer: SmallFileWriter
}

/**
 * Makes completed downloads durable in batches instead of one fsync each (an fsync costs
 * ~7.5 ms here; 200 issued at once take ~50 ms in all, the file system commits them together).
 * For each batch: write the parts of the small files held in memory (one message to the
 * small-file writer's thread), fsync every part at once, rename each to its final name, fsync
 * each folder that got a name, and only then hand the batch to be recorded done. So a final
 * name only ever holds bytes that are on the disk, and a file recorded done survives a power
 * cut; a crash before the batch's end leaves complete parts (resumed at their length: zero
 * bytes to fetch), final files not yet recorded (found in place on the next try and recorded),
 * or held files' bytes lost with the process (fetched again).
 *
 * Group commit: at most `maxBatches` batches are on their way to the disk at once; files that
 * complete meanwhile wait and go together in the next one (a batch started on the timer alone,
 * one after another, held a few dozen files each and fell behind the downloads: its time is
 * mostly the disk's latency, whatever its size). `add` waits while `maxFiles` files are waiting
 * and no batch can start, so the files held open (and the bytes held in memory) stay bounded.
 */
export class DurableBatch {
  readonly #o: DurableBatchOptions
  readonly #maxBatches: number
  #pending: CompletedFile[] = []
  #timer: NodeJS.Timeout | undefined
  /** The pending files have waited long enough: they go as soon as a batch can start. */
  #due = false
  /** Batches on their way to the disk. */
  readonly #running = new Set<Promise<void>>()
  /** `add` calls waiting for room (a batch to end). */
  #room: (() => void)[] = []

  constructor(options: DurableBatchOptions) {
    this.#o = options
    this.#maxBatches = Math.max(1, options.maxBatches ?? 2)
  }

  /** Takes a completed file; resolves at once unless `maxFiles` wait and no batch can start. */
  async add(completed: CompletedFile): Promise<void> {
    this.#pending.push(completed)
    this.#kick()
    while (this.#pending.length >= this.#o.maxFiles) {
      await new Promise<void>((resolve) => this.#room.push(resolve))
    }
  }

  /** Makes every file taken so far durable and recorded (pause, cancel and stop wait on it). */
  async flush(): Promise<void> {
    this.#clearTimer()
    const batches: Promise<void>[] = [...this.#running]
    // These go now, beside the batches running: a flush is rare and its caller waits.
    while (this.#pending.length > 0) batches.push(this.#start(this.#o.maxFiles))
    this.#wake()
    const results = await Promise.allSettled(batches)
    const broken = results.find((r) => r.status === 'rejected')
    if (broken !== undefined) throw broken.reason
  }

  /** Starts the batches that may start; sets the timer for files that may wait. */
  #kick(): void {
    while (
      this.#running.size < this.#maxBatches &&
      this.#pending.length > 0 &&
      (this.#due || this.#pending.length >= this.#o.maxFiles)
    ) {
      void this.#start(this.#o.maxFiles).catch(this.#o.onError)
    }
    if (this.#pending.length === 0) {
      this.#due = false
      this.#clearTimer()
    } else if (!this.#due && this.#timer === undefined) {
      this.#timer = setTimeout(() => {
        this.#timer = undefined
        this.#due = true
        this.#kick()
      }, this.#o.maxDelayMs)
    }
    this.#wake()
  }

  #start(count: number): Promise<void> {
    const batch = this.#pending.splice(0, count)
    const run = this.#settle(batch).finally(() => {
      this.#running.delete(run)
      // Whatever arrived while the disk was busy has waited long enough.
      if (this.#pending.length > 0) this.#due = true
      this.#kick()
    })
    this.#running.add(run)
    return run
  }

  #wake(): void {
    if (this.#pending.length >= this.#o.maxFiles) return
    for (const resolve of this.#room.splice(0)) resolve()
  }

  #clearTimer(): void {
    if (this.#timer !== undefined) clearTimeout(this.#timer)
    this.#timer = undefined
  }

  async #settle(batch: CompletedFile[]): Promise<void> {
    const failed = async (c: CompletedFile, err: unknown) => {
      await c.part?.close()
      await this.#o.onFailed(c, err)
    }
    // Files held in memory: written, synced, renamed and their folders synced on the writer's
    // thread, one message for all of them; beside that, the parts on disk here.
    const held = batch.filter((c) => c.bytes !== undefined)
    const parts = batch.filter((c) => c.bytes === undefined)
    const [stored, placedParts] = await Promise.all([
      this.#o.writer
        .store(
          held.map((c) => ({
            partPath: c.localPath + PART_SUFFIX,
            finalPath: c.localPath,
            bytes: c.bytes!,
          })),
        )
        .catch((err: unknown) => held.map(() => err)),
      this.#placeParts(parts, failed),
    ])
    const placed: CompletedFile[] = []
    for (const [i, c] of held.entries()) {
      const err = stored[i]
      if (err !== undefined) await failed(c, err)
      else placed.push(c)
    }
    placed.push(...placedParts)
    if (placed.length > 0) await this.#o.onDurable(placed)
  }

  /**
   * Parts already on disk (files too large to hold): every fsync at once (the file system
   * commits them together), each renamed into place, then each folder that got a name synced.
   * Returns the ones in place and durable; the others went to `failed`.
   */
  async #placeParts(
    parts: CompletedFile[],
    failed: (c: CompletedFile, err: unknown) => Promise<void>,
  ): Promise<CompletedFile[]> {
    if (parts.length === 0) return []
    const placed: CompletedFile[] = []
    const partSync = await Promise.allSettled(parts.map((c) => c.part?.sync()))
    const folders = new Set<string>()
    await Promise.all(
      parts.map(async (c, i) => {
        try {
          const sync = partSync[i]!
          if (sync.status === 'rejected') throw sync.reason
          await c.part?.install()
          folders.add(dirname(c.localPath))
          placed.push(c)
        } catch (err) {
          await failed(c, err)
        }
      }),
    )
    // The renames are on the disk once their folders are synced.
    const folderSync = await Promise.allSettled([...folders].map(syncFolder))
    const broken = folderSync.find((r) => r.status === 'rejected')
    if (broken === undefined) return placed
    for (const c of placed) await this.#o.onFailed(c, broken.reason)
    return []
  }
}

async function syncFolder(path: string): Promise<void> {
  const handle = await open(path, 'r')
  try {
    await handle.sync()
  } finally {
    await handle.close()
  }
}
