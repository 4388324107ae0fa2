import { createRequire } from 'node:module'
import { pathToFileURL } from 'node:url'
import { Worker } from 'node:worker_threads'
import { DirectoryReader, type DirJob, type DirResult, type ReaderConfig } from './read-directory'

/** Runs batches of directory jobs: on worker threads, or on the calling thread. */
export interface DirRunner {
  /** How many batches it can work on at once. */
  readonly slots: number
  /** True once a thread died: make a new runner. */
  readonly broken: boolean
  run(jobs: DirJob[]): Promise<DirResult[]>
  close(): Promise<void>
}

/** Reads directories on the main thread, one batch per event-loop turn. */
export class InlineRunner implements DirRunner {
  readonly slots = 1
  readonly broken = false
  readonly #reader: DirectoryReader

  constructor(config: ReaderConfig) {
    this.#reader = new DirectoryReader(config)
  }

  async run(jobs: DirJob[]): Promise<DirResult[]> {
    // Yield first so that a long scan leaves room for queries between batches.
    await new Promise<void>((resolve) => setImmediate(resolve))
    return jobs.map((job) => this.#reader.run(job))
  }

  async close(): Promise<void> {}
}

/**
 * How to start a scan worker: `scan-worker.js` next to this module in the built package;
 * from source (tests, benchmarks) `scan-worker.ts` through tsx's loader, registered inside the
 * worker first (Node 20 ignores `--import` in a worker's execArgv).
 */
function startWorker(config: ReaderConfig): Worker {
  const here = import.meta.url
  if (!here.endsWith('.ts'))
    return new Worker(new URL('./scan-worker.js', here), { workerData: config })
  const tsxPackage = createRequire(here).resolve('tsx/package.json')
  const api = pathToFileURL(tsxPackage.replace(/package\.json$/, 'dist/esm/api/index.mjs')).href
  const script = new URL('./scan-worker.ts', here).href
  const code = `import(${JSON.stringify(api)}).then((tsx) => { tsx.register(); return import(${JSON.stringify(script)}) })`
  return new Worker(code, { eval: true, workerData: config })
}

interface Pending {
  resolve: (results: DirResult[]) => void
  reject: (err: unknown) => void
}

class WorkerSlot {
  readonly worker: Worker
  readonly pending: Pending[] = []
  failure: unknown
  /** Resolves true once the thread runs, false if it failed to start (e.g. a missing file). */
  readonly online: Promise<boolean>
  #onReady: ((ok: boolean) => void) | undefined

  constructor(config: ReaderConfig) {
    this.worker = startWorker(config)
    // Referenced only while it has work: an idle pool never keeps the process alive.
    this.worker.unref()
    this.worker.on('message', (results: DirResult[] | 'ready') => {
      if (results === 'ready') {
        this.#onReady?.(true)
        return
      }
      this.pending.shift()?.resolve(results)
      if (this.pending.length === 0) this.worker.unref()
    })
    this.online = new Promise((resolve) => {
      this.#onReady = resolve
      this.worker.once('error', () => resolve(false))
      this.worker.once('exit', () => resolve(false))
    })
    this.worker.on('error', (err) => this.#fail(err))
    this.worker.on('exit', (code) => this.#fail(new Error(`scan worker exited with code ${code}`)))
  }

  #fail(err: unknown): void {
    this.failure ??= err
    for (const p of this.pending.splice(0)) p.reject(err)
  }

  run(jobs: DirJob[]): Promise<DirResult[]> {
    if (this.failure !== undefined) return Promise.reject(this.failure)
    return new Promise((resolve, reject) => {
      this.pending.push({ resolve, reject })
      this.worker.ref()
      this.worker.postMessage(jobs)
    })
  }
}

/**
 * Reads directories on `threads` worker threads (kept for the life of the store: starting one
 * costs tens of milliseconds, hundreds from source through tsx); batches go to the least busy.
 */
export class WorkerRunner implements DirRunner {
  readonly slots: number
  readonly #workers: WorkerSlot[]

  get broken(): boolean {
    return this.#workers.some((w) => w.failure !== undefined)
  }

  constructor(threads: number, config: ReaderConfig) {
    this.#workers = Array.from({ length: threads }, () => new WorkerSlot(config))
    // Two batches in flight per thread: one being read, one waiting, so no thread idles
    // while the main thread digests results.
    this.slots = threads * 2
  }

  /** True when every thread started; false when one could not (then close and go inline). */
  async ready(): Promise<boolean> {
    const started = await Promise.all(this.#workers.map((w) => w.online))
    return started.every(Boolean)
  }

  run(jobs: DirJob[]): Promise<DirResult[]> {
    let best = this.#workers[0] as WorkerSlot
    for (const w of this.#workers) if (w.pending.length < best.pending.length) best = w
    return best.run(jobs)
  }

  async close(): Promise<void> {
    await Promise.allSettled(this.#workers.map((w) => w.worker.terminate()))
  }
}
