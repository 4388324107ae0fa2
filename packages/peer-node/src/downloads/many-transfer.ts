import type { WishlistFile } from '@harddrive-party/index-store'
import { isPeerNodeError } from '../errors'
import type { PeerClient } from '../remote/peer-client'
import { fitsReadMany } from '../remote/read-many-answer'
import {
  classify,
  isHeld,
  prepareTarget,
  type TransferContext,
  type TransferOutcome,
  transferFile,
} from './file-transfer'

/**
 * Whether a claimed batch goes as one `read-many` request: the peer answers it (protocol 1.1),
 * it has more than one file, and every file is held in memory (small, its mtime known) and fits
 * the request's limits. `HDP_READ_MANY=0` turns it off (per-file reads, for A/B measurements).
 */
export function isReadManyBatch(
  context: TransferContext,
  client: PeerClient,
  files: readonly WishlistFile[],
): boolean {
  return (
    READ_MANY_ENABLED &&
    client.understandsReadMany &&
    files.length > 1 &&
    files.every((f) => isHeld(context, f)) &&
    fitsReadMany(files.map((f) => ({ path: f.path, size: f.size, mtime: f.mtime ?? 0 })))
  )
}

const READ_MANY_ENABLED = process.env.HDP_READ_MANY !== '0'

/**
 * Downloads a batch of small files ({@link isReadManyBatch}) through one `read-many` request:
 * one outcome per file, each settled as soon as its file is complete (its bytes go to the
 * durable batch like any held file's). A file the peer says `CHANGED` takes the per-file way,
 * which restarts it; one it refuses gets that error's outcome. When the answer breaks off or
 * lies (`INTERRUPTED`, `BAD_RESPONSE`: see `read-many-answer.ts`) or the batch is stopped, every
 * file not yet received gets that error's outcome: back to the queue, never half-written.
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
  void run(context, client, files, base, settles).catch((err: unknown) => {
    const outcome = classify(err)
    for (const settle of settles) settle(outcome) // settled ones keep their first outcome
  })
  return outcomes
}

async function run(
  context: TransferContext,
  client: PeerClient,
  files: readonly WishlistFile[],
  base: string,
  settles: Array<(outcome: Promise<TransferOutcome> | TransferOutcome) => void>,
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
        if (result.error.code === 'CHANGED') settles[at]!(transferFile(context, client, file, base))
        else settles[at]!(classify(result.error))
        continue
      }
      for (const bucket of context.buckets()) {
        if (!bucket.unlimited) await bucket.take(result.bytes.length, { signal })
      }
      context.wishlist.progress(file.requestId, file.index, result.bytes.length)
      context.onBytes(file, result.bytes.length)
      settles[at]!({ kind: 'done', localPath, bytes: result.bytes })
    }
  } catch (err) {
    // A 1.0 peer after all (it does not know the request): every file the per-file way.
    if (isPeerNodeError(err) && err.code === 'BAD_REQUEST' && !received) {
      for (const { file, at } of asked) settles[at]!(transferFile(context, client, file, base))
      return
    }
    throw err
  }
}
