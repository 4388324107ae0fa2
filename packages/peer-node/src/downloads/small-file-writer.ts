import { Worker } from 'node:worker_threads'
import { PeerNodeError } from '../errors'

/** A small file's bytes, to be written to its part file. */
export interface HeldWrite {
  partPath: string
  bytes: Uint8Array
}

/** A written part, still open (`fd`), to be closed and (when `rename`) renamed into place. */
export interface HeldInstall {
  fd: number
  partPath: string
  finalPath: string
  rename: boolean
}

type Outcome = { fd?: number; error?: { code: string; message: string } }

/**
 * The thread's code: plain JavaScript run with `eval`, so that it is the same from source and
 * from the built or bundled package. `write`: open the part (read-write as `PartFile` does: no
 * following a symlink, no hanging on a FIFO, which opens and is then refused), refuse anything
 * but a regular file, empty it, write the bytes, and leave it open
 * for the caller's fsync. `install`: close it, refuse a final name that is a symlink or not a
 * regular file (as `prepareLocalTarget` does), rename the part into place.
 */
const WORKER_CODE = `
const { parentPort } = require('node:worker_threads')
const fs = require('node:fs')
const C = fs.constants
const FLAGS = C.O_RDWR | C.O_CREAT | C.O_NOFOLLOW | C.O_NONBLOCK
const failure = (e) => ({ error: { code: typeof e.code === 'string' ? e.code : 'EIO', message: String(e.message) } })
const unsafe = (message) => Object.assign(new Error(message), { code: 'UNSAFE_NAME' })
function write(job) {
  let fd
  try {
    fd = fs.openSync(job.partPath, FLAGS, 0o644)
    const st = fs.fstatSync(fd)
    if (!st.isFile()) throw unsafe(job.partPath + ' is not a regular file; not writing there')
    if (st.size > 0) fs.ftruncateSync(fd, 0)
    let at = 0
    while (at < job.bytes.length) at += fs.writeSync(fd, job.bytes, at, job.bytes.length - at, at)
    return { fd }
  } catch (e) {
    if (fd !== undefined) try { fs.closeSync(fd) } catch {}
    return failure(e)
  }
}
function install(job) {
  try {
    fs.closeSync(job.fd)
    if (!job.rename) return {}
    let st
    try { st = fs.lstatSync(job.finalPath) } catch (e) { if (e.code !== 'ENOENT') throw e }
    if (st !== undefined && !st.isFile()) {
      throw unsafe(job.finalPath + ' is ' + (st.isSymbolicLink() ? 'a symlink' : 'not a regular file') + '; not writing there')
    }
    fs.renameSync(job.partPath, job.finalPath)
    return {}
  } catch (e) {
    return failure(e)
  }
}
function unpack({ partPaths, lengths, data }) {
  let at = 0
  return partPaths.map((partPath, i) => {
    const bytes = new Uint8Array(data, at, lengths[i])
    at += lengths[i]
    return { partPath, bytes }
  })
}
parentPort.on('message', ({ op, jobs }) =>
  parentPort.postMessage(op === 'write' ? unpack(jobs).map(write) : jobs.map(install)))
`

/** An outcome's error as the rest of the downloader sees errors (errno codes, `UNSAFE_NAME`). */
function toError(error: { code: string; message: string }): Error {
  if (error.code === 'UNSAFE_NAME') return new PeerNodeError('UNSAFE_NAME', error.message)
  return Object.assign(new Error(error.message), { code: error.code })
}

/**
 * Writes completed small downloads on a thread of its own, a batch per message: the part files'
 * open, write (and later close, final-name check and rename) are synchronous calls there, where
 * each was a thread-pool round trip on the main thread. The fsyncs stay on the thread pool, many
 * at once (one thread doing them one after another would make the file system commit each
 * alone). The thread starts on the first batch and does not keep the process alive while idle;
 * once it failed, `broken` is true and every call rejects (the caller writes another way).
 */
export class SmallFileWriter {
  #worker: Worker | undefined
  readonly #waiting: { resolve: (o: Outcome[]) => void; reject: (e: unknown) => void }[] = []
  #failure: unknown

  get broken(): boolean {
    return this.#failure !== undefined
  }

  /** Writes each file's part; an open descriptor per file, or its error. */
  async write(files: readonly HeldWrite[]): Promise<({ fd: number } | { error: Error })[]> {
    // One buffer for all the bytes, moved to the thread, not a copy of each file's.
    const data = new Uint8Array(files.reduce((sum, f) => sum + f.bytes.length, 0))
    let at = 0
    for (const f of files) {
      data.set(f.bytes, at)
      at += f.bytes.length
    }
    const packed = {
      partPaths: files.map((f) => f.partPath),
      lengths: files.map((f) => f.bytes.length),
      data: data.buffer,
    }
    const outcomes = await this.#call('write', packed, files.length, [data.buffer])
    return outcomes.map((o) =>
      o.error !== undefined || o.fd === undefined
        ? { error: toError(o.error ?? { code: 'EIO', message: 'no descriptor' }) }
        : { fd: o.fd },
    )
  }

  /** Closes each part and renames the ones to keep into place; undefined or the error. */
  async install(files: readonly HeldInstall[]): Promise<(Error | undefined)[]> {
    const outcomes = await this.#call('install', files, files.length)
    return outcomes.map((o) => (o.error === undefined ? undefined : toError(o.error)))
  }

  /** Ends the thread; calls not answered yet reject. */
  async close(): Promise<void> {
    this.#fail(new Error('the small-file writer is closed'))
    const worker = this.#worker
    this.#worker = undefined
    await worker?.terminate()
  }

  #call(
    op: 'write' | 'install',
    jobs: object,
    count: number,
    transfer: ArrayBuffer[] = [],
  ): Promise<Outcome[]> {
    if (this.#failure !== undefined) return Promise.reject(this.#failure)
    if (count === 0) return Promise.resolve([])
    const worker = this.#start()
    return new Promise<Outcome[]>((resolve, reject) => {
      this.#waiting.push({ resolve, reject })
      worker.ref() // answers pending: the process waits for them
      worker.postMessage({ op, jobs }, transfer)
    }).then((outcomes) => {
      if (outcomes.length !== count) throw new Error('the small-file writer lost a file')
      return outcomes
    })
  }

  #start(): Worker {
    if (this.#worker !== undefined) return this.#worker
    const worker = new Worker(WORKER_CODE, { eval: true })
    worker.unref()
    worker.on('message', (outcomes: Outcome[]) => {
      this.#waiting.shift()?.resolve(outcomes)
      if (this.#waiting.length === 0) worker.unref()
    })
    worker.on('error', (err) => this.#fail(err))
    worker.on('exit', (code) => this.#fail(new Error(`the small-file writer exited (${code})`)))
    this.#worker = worker
    return worker
  }

  #fail(err: unknown): void {
    this.#failure ??= err
    for (const w of this.#waiting.splice(0)) w.reject(err)
  }
}
