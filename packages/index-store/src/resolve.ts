import { constants } from 'node:fs'
import { type FileHandle, open, readlink, realpath, stat } from 'node:fs/promises'
import { join, sep } from 'node:path'
import { IndexStoreError } from './errors'
import type { IndexTree, ShareRow } from './index-tree'
import { checkPath } from './queries'

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

/**
 * Turns share paths into files on disk, re-proving at every call that the file is inside its
 * share: the disk may have changed since the scan (a file swapped for a symlink to /etc).
 */
export class Resolver {
  readonly #tree: IndexTree
  readonly #shares: () => ShareRow[]

  constructor(tree: IndexTree, shares: () => ShareRow[]) {
    this.#tree = tree
    this.#shares = shares
  }

  /** Checks the index and the real path; returns the real path and the share's real root. */
  async #prove(
    sharePath: string,
    signal: AbortSignal | undefined,
  ): Promise<{ real: string; root: string }> {
    signal?.throwIfAborted()
    checkPath(sharePath)
    if (sharePath === '')
      throw new IndexStoreError('NOT_FOUND', 'the root of all shares is not on disk')
    const [name, ...rest] = sharePath.split('/')
    const share = this.#shares().find((s) => s.name === name)
    // Only what the index holds is served: ignored, skipped or unscanned files are not.
    if (this.#tree.locate(sharePath, share) === undefined || share === undefined) {
      throw new IndexStoreError('NOT_FOUND', `${JSON.stringify(sharePath)} is not in the index`)
    }
    let root: string
    try {
      root = await realpath(share.root)
    } catch (err) {
      throw fsError(`share ${share.name}`, err)
    }
    signal?.throwIfAborted()
    let real: string
    try {
      real = await realpath(join(root, ...rest))
    } catch (err) {
      throw fsError(sharePath, err)
    }
    signal?.throwIfAborted()
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

  async open(sharePath: string, options: { signal?: AbortSignal } = {}): Promise<OpenedFile> {
    const { real, root } = await this.#prove(sharePath, options.signal)
    let handle: FileHandle
    try {
      // NOFOLLOW: the last component cannot have become a symlink since realpath;
      // NONBLOCK: a FIFO swapped in cannot hang the open.
      handle = await open(real, constants.O_RDONLY | constants.O_NOFOLLOW | constants.O_NONBLOCK)
    } catch (err) {
      throw fsError(sharePath, err)
    }
    try {
      // What the descriptor really is, whatever happened to the path since realpath.
      const opened = await readlink(`/proc/self/fd/${handle.fd}`).catch(() => real)
      if (!isInside(opened, root)) {
        throw new IndexStoreError(
          'OUTSIDE_SHARE',
          `${JSON.stringify(sharePath)} leads outside its share`,
        )
      }
      const st = await handle.stat()
      if (!st.isFile())
        throw new IndexStoreError(
          'NOT_A_FILE',
          `${JSON.stringify(sharePath)} is not a regular file`,
        )
      options.signal?.throwIfAborted()
      return {
        sharePath,
        realPath: real,
        dir: false,
        size: st.size,
        mtime: Math.floor(st.mtimeMs),
        handle,
      }
    } catch (err) {
      await handle.close()
      throw err
    }
  }
}
