import { mkdir, rm } from 'node:fs/promises'
import type { IndexWishlist, WishlistFile } from '@harddrive-party/index-store'
import { isPeerNodeError, PeerNodeError } from '../errors'
import type { PeerClient, RemoteRead } from '../remote/peer-client'
import type { TokenBucket } from '../serving/rate-limit'
import { localName, prepareLocalTarget } from './local-path'
import { PartFile } from './part-file'
import { PartWriter } from './part-writer'

export interface TransferContext {
  wishlist: IndexWishlist
  /** The global bucket, then this peer's (read at each chunk: limits may change meanwhile). */
  buckets: () => readonly TokenBucket[]
  signal: AbortSignal
  onBytes: (file: WishlistFile, bytesOnDisk: number) => void
  onQueued: (file: WishlistFile, position: number) => void
  onRestart: (file: WishlistFile, why: string) => void
  /**
   * Folders created or checked already (destinations and folders below them): not looked at
   * again for each file of a folder of thousands.
   */
  folders: Set<string>
  /** Where the transfer's bytes go (for `downloads.file()` while it runs). */
  onLocal: (file: WishlistFile, finalPath: string) => void
  /** Small files may be fetched into memory and written with their batch (the writer runs). */
  holdSmallFiles: boolean
}

/**
 * How a transfer ended. `done` carries the complete part, still open and not yet synced (the
 * caller makes it durable and puts it in place, see `durable-batch.ts`; absent when the final
 * file was already there); `failed` is recorded; `retry` means the file goes back to
 * the queue (the peer left, is busy, the transfer broke); `disk-full` halts the queue.
 */
export type TransferOutcome =
  | { kind: 'done'; localPath: string; part?: PartFile; bytes?: Uint8Array }
  | { kind: 'failed'; reason: string; unsafeName: boolean }
  | { kind: 'retry'; reason: string }
  | { kind: 'disk-full'; reason: string }

/**
 * Files of at most this many bytes (one read's worth, see serving's small-read lane) are fetched
 * whole into memory and handed over as `bytes`: their part is written, synced and renamed with
 * the batch (`durable-batch.ts`), a message to the writer's thread for all of them, instead of
 * an lstat, an open and a write per file first. A crash meanwhile loses only bytes in memory.
 */
export const HELD_FILE_BYTES = 64 * 1024

/** Progress of one transfer is reported at most this often. */
const REPORT_MS = 100

/** Transfers a longer than this are checked again at the end: the remote file may have changed. */
const VERIFY_AFTER_MS = 1000

/**
 * Where a claimed file's bytes go: its folder made (once per folder), its name made safe and
 * checked (`held`: a small file whose final name the writer looks at when it renames its part).
 */
export async function prepareTarget(
  context: TransferContext,
  file: WishlistFile,
  base: string,
  held: boolean,
): Promise<{ finalPath: string; existingSize: number | undefined } | TransferOutcome> {
  try {
    if (!context.folders.has(file.destination)) {
      await mkdir(file.destination, { recursive: true })
      context.folders.add(file.destination)
    }
    const { segments } = localName(file.path, base)
    const target = await prepareLocalTarget(file.destination, segments, context.folders, !held)
    return { finalPath: target.path, existingSize: target.existingSize }
  } catch (err) {
    // Looked at again next time: a folder may have been removed or replaced meanwhile.
    context.folders.clear()
    return classify(err)
  }
}

/** Whether a file is fetched whole into memory and written with its batch (see {@link HELD_FILE_BYTES}). */
export function isHeld(context: TransferContext, file: WishlistFile): boolean {
  return context.holdSmallFiles && file.mtime !== undefined && file.size <= HELD_FILE_BYTES
}

/** Downloads one claimed file into `destination` (the request's base path is `base`). */
export async function transferFile(
  context: TransferContext,
  client: PeerClient,
  file: WishlistFile,
  base: string,
): Promise<TransferOutcome> {
  const held = isHeld(context, file)
  const target = await prepareTarget(context, file, base, held)
  if ('kind' in target) return target
  const { finalPath, existingSize } = target
  context.onLocal(file, finalPath)
  if (held) {
    const bytes = await receiveWhole(context, client, file).catch((err: unknown) => err)
    if (bytes instanceof Uint8Array) return { kind: 'done', localPath: finalPath, bytes }
    // undefined: the remote file changed, and the part file's way starts it again.
    if (bytes !== undefined) return classify(bytes)
  }
  const part = await PartFile.open(finalPath).catch((err: unknown) => err)
  if (!(part instanceof PartFile)) return classify(part)
  let outcome: TransferOutcome | undefined
  try {
    // Renamed into place before a crash kept us from recording it: the disk is the truth.
    if (existingSize === file.size && part.size === 0) {
      await part.close()
      await rmPart(part)
      return { kind: 'done', localPath: finalPath }
    }
    outcome = await receive(context, client, file, part)
    return outcome
  } catch (err) {
    return classify(err)
  } finally {
    // A complete part is handed over open; any other is closed here.
    if (outcome?.kind !== 'done') await part.close()
  }
}

/**
 * Reads a small file whole into memory; undefined when the remote file changed (`CHANGED`).
 * Stopping short throws (the file is fetched again).
 */
async function receiveWhole(
  context: TransferContext,
  client: PeerClient,
  file: WishlistFile,
): Promise<Uint8Array | undefined> {
  const { signal } = context
  let read: RemoteRead
  try {
    read = await client.read(
      file.path,
      { offset: 0, expect: { size: file.size, mtime: file.mtime! } },
      { signal, onProgress: (e) => context.onQueued(file, e.position) },
    )
  } catch (err) {
    if (isPeerNodeError(err) && err.code === 'CHANGED') return undefined
    throw err
  }
  if (read.size !== file.size || read.mtime !== file.mtime || read.offset !== 0) {
    read.abort()
    return undefined
  }
  const chunks: Uint8Array[] = []
  let got = 0
  for await (const chunk of read.body) {
    await pace(context.buckets(), chunk.length, signal)
    chunks.push(chunk)
    got += chunk.length
  }
  if (got !== file.size) {
    throw new PeerNodeError('INTERRUPTED', `got ${got} of ${file.size} bytes of ${file.path}`)
  }
  // No `wishlist.progress`: the bytes are in memory, not on disk, until the durable batch
  // records the file done (with every byte counted).
  context.onBytes(file, got)
  // A copy: a chunk may be a view of a whole transport message, which it would keep alive.
  return Buffer.concat(chunks, got)
}

/** Whether no bucket limits (then {@link pace} has nothing to wait for). */
export function isUnlimited(buckets: readonly TokenBucket[]): boolean {
  for (const bucket of buckets) if (!bucket.unlimited) return false
  return true
}

/** Takes `bytes` from each limited bucket in turn (the global one, then the peer's). */
export async function pace(
  buckets: readonly TokenBucket[],
  bytes: number,
  signal: AbortSignal,
): Promise<void> {
  for (const bucket of buckets) {
    if (!bucket.unlimited) await bucket.take(bytes, { signal })
  }
}

/** Under a rate limit, the bytes a piece may hold: a few per second at 64 KiB/s. */
const LIMITED_PIECE_BYTES = 16 * 1024
/**
 * Reads of at least this many bytes go on the connection's bulk lane (transport's `bulk`
 * option: a fresh UDX stream, so a fresh congestion ramp, and `ls` no longer waits behind the
 * transfer's resends; docs/transport.md §3.2). Smaller reads would pay the lane's set-up for
 * little. `HDP_BULK_LANE=0` keeps every read on the connection.
 */
const BULK_READ_BYTES = process.env.HDP_BULK_LANE === '0' ? Infinity : 4 * 1024 * 1024

/**
 * `chunk` whole without a limit; under one, in pieces of {@link LIMITED_PIECE_BYTES}, each taken
 * from the buckets and written before the next: a chunk can be a whole carrier message (256 KiB
 * on TCP), which a 30 KB/s limit would hold for 8 s before its first byte reached the disk, so
 * progress (and a video played while it downloads) moved a quarter MiB at a time.
 */
function limitedPieces(chunk: Uint8Array, buckets: readonly TokenBucket[]): Uint8Array[] {
  if (chunk.length <= LIMITED_PIECE_BYTES || buckets.every((b) => b.unlimited)) return [chunk]
  const pieces: Uint8Array[] = []
  for (let at = 0; at < chunk.length; at += LIMITED_PIECE_BYTES) {
    pieces.push(chunk.subarray(at, at + LIMITED_PIECE_BYTES))
  }
  return pieces
}

async function rmPart(part: PartFile): Promise<void> {
  await rm(part.partPath, { force: true })
}

/** Reads from where the part ends until it is complete; restarts from zero on `CHANGED`. */
async function receive(
  context: TransferContext,
  client: PeerClient,
  file: WishlistFile,
  part: PartFile,
): Promise<TransferOutcome> {
  const { wishlist, signal } = context
  let current = file
  for (let attempt = 0; attempt < 4; attempt++) {
    if (part.size > current.size || current.mtime === undefined) await part.truncate(0)
    const started = performance.now()
    let read: RemoteRead
    try {
      read = await client.read(
        current.path,
        {
          offset: part.size,
          ...(current.mtime !== undefined
            ? { expect: { size: current.size, mtime: current.mtime } }
            : {}),
        },
        {
          signal,
          onProgress: (e) => context.onQueued(current, e.position),
          bulk: current.size - part.size >= BULK_READ_BYTES,
        },
      )
    } catch (err) {
      if (!isPeerNodeError(err) || err.code !== 'CHANGED') throw err
      current = await restart(context, current, part, err.message)
      continue
    }
    if (read.size !== current.size || read.mtime !== current.mtime) {
      // We sent no expectation (a restart): learn the file as it is now.
      current = await wishlist.updateFile(current.requestId, current.index, {
        size: read.size,
        mtime: read.mtime,
      })
      if (read.offset !== 0) {
        read.abort()
        await part.truncate(0)
        continue
      }
    }
    const writer = new PartWriter(part, read.offset)
    let reportedAt = 0
    let received = false
    try {
      for await (const chunk of read.body) {
        const buckets = context.buckets()
        for (const piece of limitedPieces(chunk, buckets)) {
          await pace(buckets, piece.length, signal)
          await writer.push(piece)
          // Progress is for people: a few times a second is plenty. It counts bytes on disk only.
          const now = performance.now()
          if (now - reportedAt >= REPORT_MS && writer.written > read.offset) {
            reportedAt = now
            wishlist.progress(current.requestId, current.index, writer.written)
            context.onBytes(current, writer.written)
          }
        }
      }
      received = true
    } finally {
      // Bytes that arrived before a break go to the part too: the resume starts after them.
      // A write error wins over nothing; a break's own error wins over a write error.
      if (received) await writer.flush()
      else await writer.flush().catch(() => {})
    }
    if (writer.written > read.offset) {
      wishlist.progress(current.requestId, current.index, writer.written)
      context.onBytes(current, writer.written)
    }
    if (part.size !== current.size) {
      return { kind: 'retry', reason: `got ${part.size} of ${current.size} bytes` }
    }
    if (performance.now() - started > VERIFY_AFTER_MS && current.mtime !== undefined) {
      // A long transfer may straddle a rewrite of the remote file: ask again before renaming.
      const expect = { size: current.size, mtime: current.mtime }
      const check = await client
        .read(current.path, { offset: current.size, length: 0, expect }, { signal })
        .then(
          async (r) => {
            for await (const _ of r.body) void _
            return undefined
          },
          (err: unknown) => err,
        )
      if (isPeerNodeError(check) && check.code === 'CHANGED') {
        current = await restart(context, current, part, check.message)
        continue
      }
      if (check !== undefined) throw check
    }
    return { kind: 'done', localPath: part.finalPath, part }
  }
  return { kind: 'retry', reason: `${file.path} keeps changing` }
}

/**
 * The remote file changed: drop the part and read again from zero without an expectation (the
 * answer's header says what the file is now). Never splices two versions.
 */
async function restart(
  context: TransferContext,
  file: WishlistFile,
  part: PartFile,
  why: string,
): Promise<WishlistFile> {
  await part.truncate(0)
  context.onRestart(file, why)
  const { mtime: _, ...unknown } = file
  return unknown
}

const FATAL_REMOTE = new Set(['NOT_FOUND', 'FORBIDDEN', 'BAD_REQUEST', 'BAD_PATH', 'TOO_LARGE'])

export function classify(err: unknown): TransferOutcome {
  const reason = err instanceof Error ? err.message : String(err)
  if (isPeerNodeError(err)) {
    if (err.code === 'UNSAFE_NAME') return { kind: 'failed', reason, unsafeName: true }
    if (FATAL_REMOTE.has(err.code)) return { kind: 'failed', reason, unsafeName: false }
    return { kind: 'retry', reason }
  }
  const code = (err as NodeJS.ErrnoException | undefined)?.code
  if (code === 'ENOSPC' || code === 'EDQUOT') return { kind: 'disk-full', reason }
  if (code === 'ELOOP' || code === 'EISDIR' || code === 'ENOTDIR') {
    return { kind: 'failed', reason: `not writing there: ${reason}`, unsafeName: true }
  }
  if (code === 'EACCES' || code === 'EPERM' || code === 'ENAMETOOLONG' || code === 'EROFS') {
    return { kind: 'failed', reason, unsafeName: false }
  }
  return { kind: 'retry', reason }
}
