import { Worker } from 'node:worker_threads'
import { PeerNodeError } from '../errors'

/** A small file's bytes, to be written to its part file and renamed to its final name. */
export interface HeldWrite {
  partPath: string
  finalPath: string
  bytes: Uint8Array
}

type Outcome = { error?: { code: string; message: string } }

/**
 * The thread's code: plain JavaScript run with `eval`, so that it is the same from source and
 * from the built or bundled package. A batch (`store`), in order:
 * - each part is made (`O_EXCL`: a new, empty regular file, the usual case, needs no look at
 *   it) or, when a name is there already, opened (read-write as `PartFile` does: no following
 *   a symlink, no hanging on a FIFO, which opens and is then refused), refused unless a regular
 *   file, and emptied; then written;
 * - every written part is fsynced at once (`fs.fsync` on the thread pool: the file system
 *   commits them together; synchronous calls one after another would commit each alone);
 * - each is closed and, once synced, renamed into place, unless its final name is a symlink or
 *   not a regular file (as `prepareLocalTarget` refuses);
 * - each folder that got a name is fsynced, so the renames are on the disk too.
 * A file's outcome is its first error; a folder's failed fsync fails the files renamed into it.
 * Messages carry an id: batches overlap here (their fsyncs wait on the disk), so answers may
 * come back in another order. The bytes' buffer goes back with the answer, to be used again.
 */
const WORKER_CODE = `
const { parentPort } = require('node:worker_threads')
const fs = require('node:fs')
const { dirname } = require('node:path')
const C = fs.constants
const FLAGS = C.O_RDWR | C.O_CREAT | C.O_NOFOLLOW | C.O_NONBLOCK
const failure = (e) => ({ error: { code: typeof e.code === 'string' ? e.code : 'EIO', message: String(e.message) } })
const unsafe = (message) => Object.assign(new Error(message), { code: 'UNSAFE_NAME' })
const fsyncFd = (fd) => new Promise((resolve) => fs.fsync(fd, (e) => resolve(e ?? undefined)))
async function syncFolder(path) {
  let handle
  try {
    handle = await fs.promises.open(path, 'r')
    await handle.sync()
  } catch (e) {
    return e
  } finally {
    await handle?.close().catch(() => {})
  }
}
function openPart(path) {
  try {
    return fs.openSync(path, FLAGS | C.O_EXCL, 0o644)
  } catch (e) {
    if (e.code !== 'EEXIST') throw e
  }
  const fd = fs.openSync(path, FLAGS, 0o644)
  try {
    const st = fs.fstatSync(fd)
    if (!st.isFile()) throw unsafe(path + ' is not a regular file; not writing there')
    if (st.size > 0) fs.ftruncateSync(fd, 0)
    return fd
  } catch (e) {
    try { fs.closeSync(fd) } catch {}
    throw e
  }
}
function write(file) {
  let fd
  try {
    fd = openPart(file.partPath)
    let at = 0
    while (at < file.bytes.length) at += fs.writeSync(fd, file.bytes, at, file.bytes.length - at, at)
    return { fd }
  } catch (e) {
    if (fd !== undefined) try { fs.closeSync(fd) } catch {}
    return failure(e)
  }
}
function install(file, fd, synced) {
  try {
    fs.closeSync(fd)
    if (synced !== undefined) throw synced
    let st
    try { st = fs.lstatSync(file.finalPath) } catch (e) { if (e.code !== 'ENOENT') throw e }
    if (st !== undefined && !st.isFile()) {
      throw unsafe(file.finalPath + ' is ' + (st.isSymbolicLink() ? 'a symlink' : 'not a regular file') + '; not writing there')
    }
    fs.renameSync(file.partPath, file.finalPath)
    return {}
  } catch (e) {
    return failure(e)
  }
}
async function store({ partPaths, finalPaths, lengths, data }) {
  let at = 0
  const files = partPaths.map((partPath, i) => {
    const bytes = new Uint8Array(data, at, lengths[i])
    at += lengths[i]
    return { partPath, finalPath: finalPaths[i], bytes }
  })
  const written = files.map(write)
  const synced = await Promise.all(written.map((w) => (w.fd === undefined ? undefined : fsyncFd(w.fd))))
  const folders = new Map()
  const outcomes = written.map((w, i) => {
    if (w.fd === undefined) return w
    const outcome = install(files[i], w.fd, synced[i])
    if (outcome.error === undefined) {
      const folder = dirname(files[i].finalPath)
      if (!folders.has(folder)) folders.set(folder, [])
      folders.get(folder).push(i)
    }
    return outcome
  })
  await Promise.all([...folders].map(async ([folder, renamed]) => {
    const e = await syncFolder(folder)
    if (e !== undefined) for (const i of renamed) outcomes[i] = failure(e)
  }))
  return outcomes
}
parentPort.on('message', ({ id, jobs }) => {
  store(jobs).then(
    (outcomes) => parentPort.postMessage({ id, outcomes, data: jobs.data }, [jobs.data]),
    (e) => parentPort.postMessage({ id, outcomes: jobs.partPaths.map(() => failure(e)) }),
  )
})
`

/** Size of the buffers kept for the bytes of batches (a batch of 4 KiB files takes ~512 KiB). */
const SPARE_BYTES = 1024 * 1024
/** Buffers kept: one per batch on its way to the disk, and one more. */
const MAX_SPARES = 3

/** An outcome's error as the rest of the downloader sees errors (errno codes, `UNSAFE_NAME`). */
function toError(error: { code: string; message: string }): Error {
  if (error.code === 'UNSAFE_NAME') return new PeerNodeError('UNSAFE_NAME', error.message)
  return Object.assign(new Error(error.message), { code: error.code })
}

/**
 * Makes completed small downloads durable on a thread of its own, a batch per message: the
 * parts' open, write, close, final-name check and rename are synchronous calls there, and the
 * fsyncs of the parts and their folders are issued there too (on the thread pool, all at once),
 * so the main thread sends one message per batch and gets one answer, where each file cost it
 * several thread-pool round trips. The thread starts on the first batch and does not keep the
 * process alive while idle; once it failed, `broken` is true and every call rejects (the caller
 * writes another way).
 */
export class SmallFileWriter {
  #worker: Worker | undefined
  readonly #waiting = new Map<
    number,
    { resolve: (o: Outcome[]) => void; reject: (e: unknown) => void }
  >()
  #nextId = 0
  #failure: unknown
  /**
   * Buffers the thread gave back, for the next batches' bytes: a fresh one each batch cost more
   * than its copy (the kernel maps its pages in one by one).
   */
  readonly #spare: ArrayBuffer[] = []

  get broken(): boolean {
    return this.#failure !== undefined
  }

  /**
   * Writes each file's part, fsyncs it, renames it into place and fsyncs its folder: per file,
   * undefined once it is durable under its final name, or its error (its part may remain).
   */
  async store(files: readonly HeldWrite[]): Promise<(Error | undefined)[]> {
    if (this.#failure !== undefined) throw this.#failure
    if (files.length === 0) return []
    // One buffer for all the bytes, moved to the thread, not a copy of each file's.
    const data = this.#buffer(files.reduce((sum, f) => sum + f.bytes.length, 0))
    let at = 0
    for (const f of files) {
      data.set(f.bytes, at)
      at += f.bytes.length
    }
    const jobs = {
      partPaths: files.map((f) => f.partPath),
      finalPaths: files.map((f) => f.finalPath),
      lengths: files.map((f) => f.bytes.length),
      data: data.buffer,
    }
    const outcomes = await this.#call(jobs, [data.buffer])
    if (outcomes.length !== files.length) throw new Error('the small-file writer lost a file')
    return outcomes.map((o) => (o.error === undefined ? undefined : toError(o.error)))
  }

  #buffer(bytes: number): Uint8Array<ArrayBuffer> {
    const at = this.#spare.findIndex((b) => b.byteLength >= bytes)
    if (at !== -1) return new Uint8Array(this.#spare.splice(at, 1)[0]!, 0, bytes)
    return new Uint8Array(new ArrayBuffer(Math.max(bytes, SPARE_BYTES)), 0, bytes)
  }

  /** Ends the thread; calls not answered yet reject. */
  async close(): Promise<void> {
    this.#fail(new Error('the small-file writer is closed'))
    const worker = this.#worker
    this.#worker = undefined
    await worker?.terminate()
  }

  #call(jobs: object, transfer: ArrayBuffer[]): Promise<Outcome[]> {
    const worker = this.#start()
    const id = this.#nextId++
    return new Promise<Outcome[]>((resolve, reject) => {
      this.#waiting.set(id, { resolve, reject })
      worker.ref() // answers pending: the process waits for them
      worker.postMessage({ id, jobs }, transfer)
    })
  }

  #start(): Worker {
    if (this.#worker !== undefined) return this.#worker
    const worker = new Worker(WORKER_CODE, { eval: true })
    worker.unref()
    worker.on('message', (answer: { id: number; outcomes: Outcome[]; data?: ArrayBuffer }) => {
      const { id, outcomes, data } = answer
      if (data?.byteLength === SPARE_BYTES && this.#spare.length < MAX_SPARES)
        this.#spare.push(data)
      const waiting = this.#waiting.get(id)
      this.#waiting.delete(id)
      waiting?.resolve(outcomes)
      if (this.#waiting.size === 0) worker.unref()
    })
    worker.on('error', (err) => this.#fail(err))
    worker.on('exit', (code) => this.#fail(new Error(`the small-file writer exited (${code})`)))
    this.#worker = worker
    return worker
  }

  #fail(err: unknown): void {
    this.#failure ??= err
    for (const w of this.#waiting.values()) w.reject(err)
    this.#waiting.clear()
  }
}
