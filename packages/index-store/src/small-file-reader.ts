import { Worker } from 'node:worker_threads'

/** What the reading thread found at a path: the bytes and what the descriptor was, or an errno. */
export type SmallReadResult =
  | {
      kind: 'read'
      /** Where `/proc/self/fd` said the open descriptor leads (undefined: it could not say). */
      opened: string | undefined
      isFile: boolean
      size: number
      mtimeMs: number
      /** At most the `maxBytes` asked for, from `offset`; shorter only when the file ended. */
      bytes: Uint8Array
    }
  | { kind: 'error'; code: string; message: string }

interface Job {
  path: string
  offset: number
  maxBytes: number
}

/** Most reads sent to the thread in one message (the serving side's slots bound them anyway). */
const MAX_BATCH = 64

/**
 * The thread's code: plain JavaScript run with `eval`, so that it is the same from source
 * (tests, tsx) and from the built or bundled package (no second entry file to find). For each
 * job: open (no following a final symlink, no hanging on a FIFO), ask `/proc/self/fd` where the
 * descriptor leads, fstat, read at most `maxBytes` of a regular file, close. Synchronous calls
 * on this thread: one message each way per batch instead of four thread-pool round trips per
 * file on the main thread.
 */
const WORKER_CODE = `
const { parentPort } = require('node:worker_threads')
const fs = require('node:fs')
const FLAGS = fs.constants.O_RDONLY | fs.constants.O_NOFOLLOW | fs.constants.O_NONBLOCK
function readOne(job, transfer) {
  let fd
  try {
    fd = fs.openSync(job.path, FLAGS)
    let opened
    try { opened = fs.readlinkSync('/proc/self/fd/' + fd) } catch {}
    const st = fs.fstatSync(fd)
    if (!st.isFile()) return { kind: 'read', opened, isFile: false, size: st.size, mtimeMs: st.mtimeMs, bytes: new Uint8Array(0) }
    const want = Math.max(0, Math.min(job.maxBytes, st.size - job.offset))
    const bytes = new Uint8Array(want)
    let got = 0
    while (got < want) {
      const n = fs.readSync(fd, bytes, got, want - got, job.offset + got)
      if (n === 0) break
      got += n
    }
    transfer.push(bytes.buffer)
    return { kind: 'read', opened, isFile: true, size: st.size, mtimeMs: st.mtimeMs, bytes: bytes.subarray(0, got) }
  } catch (err) {
    return { kind: 'error', code: typeof err.code === 'string' ? err.code : 'EIO', message: String(err.message) }
  } finally {
    if (fd !== undefined) try { fs.closeSync(fd) } catch {}
  }
}
parentPort.on('message', (jobs) => {
  const transfer = []
  const results = jobs.map((job) => readOne(job, transfer))
  parentPort.postMessage(results, transfer)
})
`

interface Waiting {
  resolve: (results: SmallReadResult[]) => void
  reject: (err: unknown) => void
}

/**
 * Reads small files on a thread of its own, a batch at a time: reads asked for in one turn of
 * the event loop go to the thread in one message and come back in one. The thread starts on the
 * first read and does not keep the process alive while idle. When it cannot run (it failed or
 * exited), `read` rejects and `broken` is true: the caller reads another way.
 */
export class SmallFileReader {
  #worker: Worker | undefined
  #queue: { job: Job; resolve: (r: SmallReadResult) => void; reject: (e: unknown) => void }[] = []
  #flushQueued = false
  /** Batches sent and not yet answered, in order (the thread answers in order). */
  readonly #sent: Waiting[] = []
  #failure: unknown
  #closed = false

  /** True once the thread failed: every read rejects. */
  get broken(): boolean {
    return this.#failure !== undefined || this.#closed
  }

  /** Reads at most `maxBytes` of the file at `path` from `offset` (the whole job on the thread). */
  read(path: string, offset: number, maxBytes: number): Promise<SmallReadResult> {
    if (this.broken) return Promise.reject(this.#failure ?? new Error('the reader is closed'))
    return new Promise((resolve, reject) => {
      this.#queue.push({ job: { path, offset, maxBytes }, resolve, reject })
      if (this.#flushQueued) return
      this.#flushQueued = true
      setImmediate(() => this.#flush())
    })
  }

  /** Ends the thread; reads not answered yet reject. */
  async close(): Promise<void> {
    this.#closed = true
    this.#fail(new Error('the reader is closed'))
    const worker = this.#worker
    this.#worker = undefined
    await worker?.terminate()
  }

  #flush(): void {
    this.#flushQueued = false
    while (this.#queue.length > 0 && !this.broken) {
      const batch = this.#queue.splice(0, MAX_BATCH)
      const worker = this.#start()
      this.#sent.push({
        resolve: (results) => {
          for (const [i, b] of batch.entries()) {
            const result = results[i]
            if (result === undefined) b.reject(new Error('the small-file reader lost a read'))
            else b.resolve(result)
          }
        },
        reject: (err) => {
          for (const b of batch) b.reject(err)
        },
      })
      worker.ref() // answers pending: the process waits for them
      worker.postMessage(batch.map((b) => b.job))
    }
  }

  #start(): Worker {
    if (this.#worker !== undefined) return this.#worker
    const worker = new Worker(WORKER_CODE, { eval: true })
    worker.unref()
    worker.on('message', (results: SmallReadResult[]) => {
      this.#sent.shift()?.resolve(results)
      if (this.#sent.length === 0) worker.unref()
    })
    worker.on('error', (err) => this.#fail(err))
    worker.on('exit', (code) => this.#fail(new Error(`the small-file reader exited (${code})`)))
    this.#worker = worker
    return worker
  }

  #fail(err: unknown): void {
    this.#failure ??= err
    for (const waiting of this.#sent.splice(0)) waiting.reject(err)
    for (const queued of this.#queue.splice(0)) queued.reject(err)
  }
}
