import { constants, readlinkSync } from 'node:fs'
import { type FileHandle, open, realpath, stat } from 'node:fs/promises'
import { join, sep } from 'node:path'
import { IndexStoreError } from './errors'
import type { IndexTree, ShareRow } from './index-tree'
import { checkPath } from './queries'
import { SmallFileReader } from './small-file-reader'

export interface ResolvedPath {
  /** The share path asked for. */
  sharePath: string
  /** Its real path on disk, proven to lie inside its share's real root just now. */
  realPath: string
  dir: boolean
  /** Size from a fresh stat (the index may be older). */
  size: number
  /** mtime (ms) from a fresh stat. */
  mtime: number
}

export interface OpenedFile extends ResolvedPath {
  /** Opened read-only; the caller closes it. */
  handle: FileHandle
}

/** A file's first bytes from an offset, read with the proof of {@link OpenedFile}. */
export interface SmallFile extends ResolvedPath {
  offset: number
  /** At most the `maxBytes` asked for; shorter when the file ends sooner (its `size` says). */
  bytes: Buffer
}

/** Most bytes one `readSmall` may ask for: the bytes are held in memory at once. */
export const MAX_SMALL_READ_BYTES = 1024 * 1024

function errnoCode(err: unknown): string | undefined {
  return typeof err === 'object' && err !== null && 'code' in err && typeof err.code === 'string'
    ? err.code
    : undefined
}

function isInside(real: string, root: string): boolean {
  return real === root || real.startsWith(root.endsWith(sep) ? root : `${root}${sep}`)
}

function fsError(path: string, err: unknown): IndexStoreError {
  const code = errnoCode(err)
  if (code === 'EACCES' || code === 'EPERM') {
    return new IndexStoreError('UNREADABLE', `${path}: permission denied`, { cause: err })
  }
  if (code === 'ENOENT' || code === 'ENOTDIR' || code === 'ELOOP') {
    return new IndexStoreError('NOT_FOUND', `${path} is no longer on disk (${code})`, {
      cause: err,
    })
  }
  return new IndexStoreError('UNREADABLE', `${path}: ${code ?? String(err)}`, { cause: err })
}

/** A share root's real path is looked up again after this long (see `#realRoot`). */
const ROOT_TTL_MS = 1000

/** Where the kernel says an open descriptor leads (Linux); undefined where it cannot say. */
function descriptorPath(fd: number): string | undefined {
  try {
    // A read of the kernel's own table, never of a disk: cheap enough to do in line.
    return readlinkSync(`/proc/self/fd/${fd}`)
  } catch {
    return undefined
  }
}

/**
 * Turns share paths into files on disk, re-proving at every call that the file is inside its
 * share: the disk may have changed since the scan (a file swapped for a symlink to /etc).
 */
export class Resolver {
  readonly #tree: IndexTree
  readonly #shares: () => ShareRow[]
  /** Real paths of share roots, each with when it was looked up. */
  readonly #roots = new Map<string, { real: string; at: number }>()
  /** False once `/proc/self/fd` could not say where a descriptor leads (not Linux). */
  #procFd = true
  /** Reads small files on a thread of its own (started by the first `readSmall`). */
  readonly #reader = new SmallFileReader()

  constructor(tree: IndexTree, shares: () => ShareRow[]) {
    this.#tree = tree
    this.#shares = shares
  }

  /**
   * The real path of a share's root, looked up at most once a second: serving a folder of small
   * files asked for it thousands of times a second. A root re-pointed meanwhile (a symlink
   * changed) is seen within the second; a check that fails against the remembered root looks it
   * up again before refusing, so a stale root can only refuse, never admit, beyond that second.
   */
  async #realRoot(share: ShareRow, fresh = false): Promise<string> {
    const known = this.#roots.get(share.root)
    const now = performance.now()
    if (!fresh && known !== undefined && now - known.at < ROOT_TTL_MS) return known.real
    let real: string
    try {
      real = await realpath(share.root)
    } catch (err) {
      this.#roots.delete(share.root)
      throw fsError(`share ${share.name}`, err)
    }
    if (this.#roots.size > 1000) this.#roots.clear() // bounded: shares come and go
    this.#roots.set(share.root, { real, at: now })
    return real
  }

  /** The share of `sharePath`, checked to be a valid path that the index holds. */
  #indexed(
    sharePath: string,
    signal: AbortSignal | undefined,
  ): { share: ShareRow; rest: string[] } {
    signal?.throwIfAborted()
    checkPath(sharePath)
    if (sharePath === '')
      throw new IndexStoreError('NOT_FOUND', 'the root of all shares is not on disk')
    const [name, ...rest] = sharePath.split('/')
    const share = this.#shares().find((s) => s.name === name)
    // Only what the index holds is served: ignored, skipped or unscanned files are not.
    if (share === undefined || !this.#tree.has(sharePath, share)) {
      throw new IndexStoreError('NOT_FOUND', `${JSON.stringify(sharePath)} is not in the index`)
    }
    return { share, rest }
  }

  /** Checks the index and the real path; returns the real path and the share's real root. */
  async #prove(
    sharePath: string,
    signal: AbortSignal | undefined,
  ): Promise<{ real: string; root: string }> {
    const { share, rest } = this.#indexed(sharePath, signal)
    let root = await this.#realRoot(share)
    signal?.throwIfAborted()
    let real: string
    try {
      real = await realpath(join(share.root, ...rest))
    } catch (err) {
      throw fsError(sharePath, err)
    }
    signal?.throwIfAborted()
    if (!isInside(real, root)) root = await this.#realRoot(share, true)
    if (!isInside(real, root)) {
      throw new IndexStoreError(
        'OUTSIDE_SHARE',
        `${JSON.stringify(sharePath)} leads outside share ${share.name}`,
      )
    }
    return { real, root }
  }

  async resolve(sharePath: string, options: { signal?: AbortSignal } = {}): Promise<ResolvedPath> {
    const { real } = await this.#prove(sharePath, options.signal)
    let st: Awaited<ReturnType<typeof stat>>
    try {
      st = await stat(real)
    } catch (err) {
      throw fsError(sharePath, err)
    }
    return {
      sharePath,
      realPath: real,
      dir: st.isDirectory(),
      size: st.size,
      mtime: Math.floor(st.mtimeMs),
    }
  }

  /**
   * Opens an indexed file read-only. Where the kernel can say what a descriptor is (Linux),
   * the path is opened as it is and the descriptor's own path proves it inside the share: an
   * open, a look at `/proc/self/fd` and an fstat, instead of two realpaths (each a look at
   * every folder on the way) before them. A file that is itself a symlink (allowed when it
   * leads inside the share) and systems without `/proc` take the realpath way.
   */
  async open(sharePath: string, options: { signal?: AbortSignal } = {}): Promise<OpenedFile> {
    const { signal } = options
    if (this.#procFd) {
      const { share, rest } = this.#indexed(sharePath, signal)
      let handle: FileHandle | undefined
      try {
        handle = await openNoFollow(join(share.root, ...rest))
      } catch (err) {
        if (errnoCode(err) !== 'ELOOP') throw fsError(sharePath, err)
      }
      if (handle !== undefined) {
        try {
          const opened = descriptorPath(handle.fd)
          if (opened === undefined) this.#procFd = false
          else {
            let root = await this.#realRoot(share)
            if (!isInside(opened, root)) root = await this.#realRoot(share, true)
            if (!isInside(opened, root)) {
              throw new IndexStoreError(
                'OUTSIDE_SHARE',
                `${JSON.stringify(sharePath)} leads outside share ${share.name}`,
              )
            }
            return await described(sharePath, opened, handle, signal)
          }
        } catch (err) {
          await handle.close()
          throw err
        }
        await handle.close()
      }
    }
    const { real, root } = await this.#prove(sharePath, signal)
    let handle: FileHandle
    try {
      handle = await openNoFollow(real)
    } catch (err) {
      throw fsError(sharePath, err)
    }
    try {
      // What the descriptor really is, whatever happened to the path since realpath.
      const opened = descriptorPath(handle.fd) ?? real
      if (!isInside(opened, root)) {
        throw new IndexStoreError(
          'OUTSIDE_SHARE',
          `${JSON.stringify(sharePath)} leads outside its share`,
        )
      }
      return await described(sharePath, real, handle, signal)
    } catch (err) {
      await handle.close()
      throw err
    }
  }

  /**
   * Reads at most `maxBytes` of an indexed file from `offset`, with the same proof as `open`
   * (the open descriptor is a regular file inside its share), for files read whole in one go.
   * Where `/proc/self/fd` answers, the open, the look at `/proc`, the fstat, the read and the
   * close run on a thread of their own, many files per message (a thread-pool round trip each
   * cost more than the read of a 4 KiB file); a file that is a symlink, systems without
   * `/proc` and a reader thread that failed take `open`'s way.
   */
  async readSmall(
    sharePath: string,
    range: { offset: number; maxBytes: number },
    options: { signal?: AbortSignal } = {},
  ): Promise<SmallFile> {
    const { offset, maxBytes } = range
    if (!Number.isSafeInteger(offset) || offset < 0) {
      throw new RangeError(`offset must be a non-negative integer, got ${offset}`)
    }
    if (!Number.isSafeInteger(maxBytes) || maxBytes < 0 || maxBytes > MAX_SMALL_READ_BYTES) {
      throw new RangeError(`maxBytes must be 0..${MAX_SMALL_READ_BYTES}, got ${maxBytes}`)
    }
    const { signal } = options
    if (!this.#procFd || this.#reader.broken) return this.#readByHandle(sharePath, range, signal)
    const { share, rest } = this.#indexed(sharePath, signal)
    const found = await this.#reader
      .read(join(share.root, ...rest), offset, maxBytes)
      .catch(() => undefined) // the thread broke: read another way
    if (found === undefined) return this.#readByHandle(sharePath, range, signal)
    signal?.throwIfAborted()
    if (found.kind === 'error') {
      if (found.code === 'ELOOP') return this.#readByHandle(sharePath, range, signal)
      throw fsError(sharePath, Object.assign(new Error(found.message), { code: found.code }))
    }
    if (found.opened === undefined) {
      this.#procFd = false
      return this.#readByHandle(sharePath, range, signal)
    }
    let root = await this.#realRoot(share)
    if (!isInside(found.opened, root)) root = await this.#realRoot(share, true)
    if (!isInside(found.opened, root)) {
      throw new IndexStoreError(
        'OUTSIDE_SHARE',
        `${JSON.stringify(sharePath)} leads outside share ${share.name}`,
      )
    }
    if (!found.isFile) {
      throw new IndexStoreError('NOT_A_FILE', `${JSON.stringify(sharePath)} is not a regular file`)
    }
    const { bytes } = found
    return {
      sharePath,
      realPath: found.opened,
      dir: false,
      size: found.size,
      mtime: Math.floor(found.mtimeMs),
      offset,
      bytes: Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength),
    }
  }

  /** `readSmall` through `open` and a read on the thread pool. */
  async #readByHandle(
    sharePath: string,
    range: { offset: number; maxBytes: number },
    signal: AbortSignal | undefined,
  ): Promise<SmallFile> {
    const { handle, ...file } = await this.open(sharePath, signal === undefined ? {} : { signal })
    try {
      const want = Math.max(0, Math.min(range.maxBytes, file.size - range.offset))
      const bytes = Buffer.allocUnsafe(want)
      let got = 0
      while (got < want) {
        const { bytesRead } = await handle.read(bytes, got, want - got, range.offset + got)
        if (bytesRead === 0) break
        got += bytesRead
      }
      return { ...file, offset: range.offset, bytes: bytes.subarray(0, got) }
    } finally {
      await handle.close()
    }
  }

  /** Ends the reading thread (the store is stopping). */
  async close(): Promise<void> {
    await this.#reader.close()
  }
}

/**
 * NOFOLLOW: the last component may not be (or have become) a symlink; NONBLOCK: a FIFO
 * swapped in cannot hang the open.
 */
function openNoFollow(path: string): Promise<FileHandle> {
  return open(path, constants.O_RDONLY | constants.O_NOFOLLOW | constants.O_NONBLOCK)
}

/** The opened file as {@link OpenedFile}, from a fresh fstat; refuses anything but a file. */
async function described(
  sharePath: string,
  realPath: string,
  handle: FileHandle,
  signal: AbortSignal | undefined,
): Promise<OpenedFile> {
  const st = await handle.stat()
  if (!st.isFile())
    throw new IndexStoreError('NOT_A_FILE', `${JSON.stringify(sharePath)} is not a regular file`)
  signal?.throwIfAborted()
  return { sharePath, realPath, dir: false, size: st.size, mtime: Math.floor(st.mtimeMs), handle }
}
