import type { WishlistFile } from '@harddrive-party/index-store'
import { isPeerNodeError } from '../errors'
import type { PeerClient } from '../remote/peer-client'
import { fitsReadMany } from '../remote/read-many-answer'
import {
  classify,
  isHeld,
  isUnlimited,
  pace,
  prepareTarget,
  type TransferContext,
  type TransferOutcome,
  transferFile,
} from './file-transfer'

/** `HDP_READ_MANY=0` turns `read-many` off (per-file reads, for A/B measurements). */
const READ_MANY_ENABLED = process.env.HDP_READ_MANY !== '0'

/** Per-file transfers of one batch at once (each is a request: the peer's limit is per peer). */
const PER_FILE_AT_ONCE = 12

/** Whether `client`'s peer is sent `read-many` requests (protocol 1.1, not turned off). */
export function usesReadMany(client: PeerClient): boolean {
  return READ_MANY_ENABLED && client.understandsReadMany
}

/**
 * Downloads a claimed batch from a peer that {@link usesReadMany}: its held files (small,
 * mtime known) through one `read-many` request when there are at least two and they fit its
 * limits together, the others (larger, of unknown mtime, or all of them when the writer is
 * broken or their paths are too long for one request) file by file, {@link PER_FILE_AT_ONCE}
 * at a time. The held files' request: one outcome per file, each settled as soon as its file
 * is complete (its bytes go to the durable batch like any held file's). A file the peer says
 * `CHANGED` takes the per-file way, which restarts it; one it refuses gets that error's
 * outcome. When the answer breaks off or lies (`INTERRUPTED`, `BAD_RESPONSE`: see
 * `read-many-answer.ts`) or the batch is stopped, every file not yet received gets that error's
 * outcome: back to the queue, never half-written.
 */
export function transferMany(
  context: TransferContext,
  client: PeerClient,
  files: readonly WishlistFile[],
  base: string,
): Promise<TransferOutcome>[] {
  const settles: Array<(outcome: Promise<TransferOutcome> | TransferOutcome) => void> = []
  const outcomes = files.map(
    (_, i) =>
      new Promise<TransferOutcome>((resolve) => {
        settles[i] = resolve
      }),
  )
  const perFile = limiter(PER_FILE_AT_ONCE)
  const single = (file: WishlistFile) => perFile(() => transferFile(context, client, file, base))
  const held: WishlistFile[] = []
  const heldSettles: typeof settles = []
  for (const [i, file] of files.entries()) {
    if (isHeld(context, file)) {
      held.push(file)
      heldSettles.push(settles[i]!)
    }
  }
  const together = held.map((f) => ({ path: f.path, size: f.size, mtime: f.mtime ?? 0 }))
  if (held.length < 2 || !fitsReadMany(together)) held.length = 0
  for (const [i, file] of files.entries()) {
    if (!held.includes(file)) settles[i]!(single(file))
  }
  if (held.length === 0) return outcomes
  void run(context, client, held, base, heldSettles, single).catch((err: unknown) => {
    const outcome = classify(err)
    for (const settle of heldSettles) settle(outcome) // settled ones keep their first outcome
  })
  return outcomes
}

/** Runs at most `n` of the functions given at once. */
function limiter(n: number): <T>(fn: () => Promise<T>) => Promise<T> {
  let running = 0
  const waiting: Array<() => void> = []
  return async (fn) => {
    while (running >= n) await new Promise<void>((resolve) => waiting.push(resolve))
    running++
    try {
      return await fn()
    } finally {
      running--
      waiting.shift()?.()
    }
  }
}

async function run(
  context: TransferContext,
  client: PeerClient,
  files: readonly WishlistFile[],
  base: string,
  settles: Array<(outcome: Promise<TransferOutcome> | TransferOutcome) => void>,
  single: (file: WishlistFile) => Promise<TransferOutcome>,
): Promise<void> {
  const { signal } = context
  // Which files are asked for (a name that cannot be made safe is not), and where each goes.
  const asked: Array<{ file: WishlistFile; at: number; localPath: string }> = []
  for (const [at, file] of files.entries()) {
    const target = await prepareTarget(context, file, base, true)
    if ('kind' in target) settles[at]!(target)
    else {
      context.onLocal(file, target.finalPath)
      asked.push({ file, at, localPath: target.finalPath })
    }
  }
  if (asked.length === 0) return
  const wanted = asked.map(({ file }) => ({ path: file.path, size: file.size, mtime: file.mtime! }))
  const answer = client.readMany(wanted, {
    signal,
    onProgress: (e) => {
      for (const { file } of asked) context.onQueued(file, e.position)
    },
  })
  let received = false
  try {
    for await (const result of answer) {
      received = true
      const { file, at, localPath } = asked[result.index]!
      if (result.error !== undefined) {
        // Changed since it was listed: the per-file way learns it anew and restarts it.
        if (result.error.code === 'CHANGED') settles[at]!(single(file))
        else settles[at]!(classify(result.error))
        continue
      }
      const buckets = context.buckets()
      if (!isUnlimited(buckets)) await pace(buckets, result.bytes.length, signal)
      // No `wishlist.progress`: the bytes are in memory, not on disk, until the durable batch
      // records the file done (with every byte counted).
      context.onBytes(file, result.bytes.length)
      settles[at]!({ kind: 'done', localPath, bytes: result.bytes })
    }
  } catch (err) {
    // A 1.0 peer after all (it does not know the request): every file the per-file way.
    if (isPeerNodeError(err) && err.code === 'BAD_REQUEST' && !received) {
      for (const { file, at } of asked) settles[at]!(single(file))
      return
    }
    throw err
  }
}
