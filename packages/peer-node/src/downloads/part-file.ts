import { constants } from 'node:fs'
import { type FileHandle, lstat, open, rename, rm } from 'node:fs/promises'
import { PeerNodeError } from '../errors'
import { PART_SUFFIX } from './local-path'

/**
 * A file being downloaded: its bytes go to `<final>.part`, and where that file ends is where the
 * download resumes (the disk is the truth, not a counter that may run ahead of it). Complete:
 * `sync` (fsync), then `install` (an atomic rename to the final name), so a final name never
 * holds half a file nor bytes not yet on the disk. Completed parts are synced in batches (see
 * `durable-batch.ts`). Range-based: `write` takes a position, so several sources or re-fetched
 * ranges fit later.
 */
export class PartFile {
  readonly finalPath: string
  readonly partPath: string
  readonly #handle: FileHandle
  #size: number

  private constructor(finalPath: string, handle: FileHandle, size: number) {
    this.finalPath = finalPath
    this.partPath = finalPath + PART_SUFFIX
    this.#handle = handle
    this.#size = size
  }

  /**
   * Opens (or creates) the part file of `finalPath`. A symlink planted under the part name is
   * refused, not followed (`O_NOFOLLOW`: `ELOOP`), and so is anything but a regular file
   * (`UNSAFE_NAME`; `O_NONBLOCK`: a FIFO cannot hang the open).
   */
  static async open(finalPath: string): Promise<PartFile> {
    const flags = constants.O_RDWR | constants.O_CREAT | constants.O_NOFOLLOW | constants.O_NONBLOCK
    const path = finalPath + PART_SUFFIX
    // Most parts are new: created here (O_EXCL: nothing stood there, not even a symlink), they
    // are empty regular files and need no fstat. One already there is looked at.
    const created = await open(path, flags | constants.O_EXCL, 0o644).catch(
      (err: NodeJS.ErrnoException) => {
        if (err.code === 'EEXIST') return undefined
        throw err
      },
    )
    if (created !== undefined) return new PartFile(finalPath, created, 0)
    const handle = await open(path, flags, 0o644)
    try {
      const st = await handle.stat()
      if (!st.isFile()) {
        throw new PeerNodeError(
          'UNSAFE_NAME',
          `${finalPath}${PART_SUFFIX} is not a regular file; not writing there`,
        )
      }
      return new PartFile(finalPath, handle, st.size)
    } catch (err) {
      await handle.close()
      throw err
    }
  }

  /** Bytes on disk: the offset a download continues from. */
  get size(): number {
    return this.#size
  }

  /** Writes all of `chunk` at `position`. */
  async write(chunk: Uint8Array, position: number): Promise<void> {
    await this.writev([chunk], position)
  }

  /** Writes `chunks` one after another from `position`, in one system call when it can. */
  async writev(chunks: readonly Uint8Array[], position: number): Promise<void> {
    let rest = [...chunks]
    let at = position
    while (rest.length > 0) {
      const { bytesWritten } = await this.#handle.writev(rest, at)
      at += bytesWritten
      rest = skipBytes(rest, bytesWritten)
    }
    this.#size = Math.max(this.#size, at)
  }

  /** Drops bytes beyond `length` (a part longer than the file, or a changed remote file). */
  async truncate(length: number): Promise<void> {
    await this.#handle.truncate(length)
    this.#size = length
  }

  /** fsync: the bytes are on the disk, not only in the page cache. */
  async sync(): Promise<void> {
    await this.#handle.sync()
  }

  /** Close and rename into place atomically (after {@link sync}). */
  async install(): Promise<void> {
    await this.#handle.close()
    await rename(this.partPath, this.finalPath)
  }

  async close(): Promise<void> {
    await this.#handle.close().catch(() => {})
  }
}

/** What is left of `chunks` after their first `n` bytes (a short write). */
function skipBytes(chunks: Uint8Array[], n: number): Uint8Array[] {
  let left = n
  while (left > 0 && chunks.length > 0) {
    const first = chunks[0]!
    if (first.length <= left) {
      left -= first.length
      chunks.shift()
    } else {
      chunks[0] = first.subarray(left)
      left = 0
    }
  }
  return chunks
}

/** Bytes on disk of a download: the final file when it is there, else its part (0 when none). */
export async function bytesOnDisk(
  finalPath: string,
): Promise<{ bytes: number; complete: boolean }> {
  const part = await lstat(finalPath + PART_SUFFIX).catch(() => undefined)
  if (part?.isFile()) return { bytes: part.size, complete: false }
  const done = await lstat(finalPath).catch(() => undefined)
  if (done?.isFile()) return { bytes: done.size, complete: true }
  return { bytes: 0, complete: false }
}

/** Removes a part file (cancel); never follows a symlink (rm removes the link itself). */
export async function removePart(finalPath: string): Promise<void> {
  await rm(finalPath + PART_SUFFIX, { force: true })
}
