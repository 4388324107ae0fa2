import { constants } from 'node:fs'
import { type FileHandle, open } from 'node:fs/promises'
import { setTimeout as sleep } from 'node:timers/promises'
import type { FastifyReply, FastifyRequest } from 'fastify'
import type { DownloadFile } from '../downloads/download-types'
import type { PeerNode } from '../types'
import { ApiError } from './api-error'
import { fileHeaders, serveOpened, wantedRange } from './file-ranges'

/** How long a range not downloaded yet waits for its first byte before `503`. */
export const DOWNLOAD_WAIT_MS = 20_000
const POLL_MS = 200

/**
 * `GET /files/downloads/<request id>/<file index>`: a completed download, or the part of one
 * still downloading. Paths come from the download queue, never from the URL.
 *
 * While it downloads, `Content-Range` carries the file's final size (a player needs it for the
 * duration) and a range is answered from the bytes already here: a range whose first byte has
 * arrived gets `206` with up to the last byte here (RFC 9110 lets a client ask again for the
 * rest); a range whose first byte has not arrived waits for it (up to `DOWNLOAD_WAIT_MS`) while
 * the download goes on, then `503` (`Retry-After`); a paused or failed download answers such a
 * range with `409`. Without `Range`, `200` with the bytes here so far.
 */
export async function serveDownload(
  node: PeerNode,
  id: string,
  indexText: string,
  req: FastifyRequest,
  reply: FastifyReply,
  signal: AbortSignal,
): Promise<void> {
  const index = /^\d{1,9}$/.test(indexText) ? Number(indexText) : -1
  const lookup = async () => {
    const file = index < 0 ? undefined : await node.downloads.file(id, index)
    if (file === undefined) {
      throw new ApiError('NOT_FOUND', `no file ${indexText} in download ${id}`)
    }
    return file
  }
  let file = await lookup()
  if (file.state !== 'done') {
    const start = wantedRange(req, reply, file.size)?.offset ?? 0
    file = await waitForByte(node, id, start, lookup, goneSignal(reply, signal))
  }
  if (file.state === 'done') {
    const handle = await openOrNull(file.localPath)
    if (handle === undefined) throw new ApiError('NOT_FOUND', `${file.path} is not on disk`)
    return serveHandle(handle, file.path, req, reply)
  }
  const handle = await openOrNull(file.partPath)
  if (handle === undefined) {
    // Completed (renamed) between the lookup and the open.
    const now = await lookup()
    const done = now.state === 'done' ? await openOrNull(now.localPath) : undefined
    if (done === undefined) throw new ApiError('NOT_FOUND', `${file.path}: no bytes on disk yet`)
    return serveHandle(done, now.path, req, reply)
  }
  try {
    const st = await handle.stat()
    servePart({ handle, have: st.size, total: file.size, mtime: st.mtimeMs }, file.path, req, reply)
    return reply
  } catch (err) {
    await handle.close().catch(() => {})
    throw err
  }
}

/** Waits until byte `start` is on disk (or the file is done); `503`/`409` when it will not come soon. */
async function waitForByte(
  node: PeerNode,
  id: string,
  start: number,
  lookup: () => Promise<DownloadFile>,
  signal: AbortSignal,
): Promise<DownloadFile> {
  const deadline = performance.now() + DOWNLOAD_WAIT_MS
  for (;;) {
    const file = await lookup()
    if (file.state === 'done' || file.bytesOnDisk > start) return file
    const request = node.downloads.get(id)
    if (file.state === 'failed' || request?.state === 'paused' || request?.state === 'failed') {
      throw new ApiError(
        'CONFLICT',
        `byte ${start} of ${file.path} has not arrived and the download is ${request?.state === 'paused' ? 'paused' : 'failed'}`,
      )
    }
    if (performance.now() >= deadline) {
      throw new ApiError(
        'BUSY',
        `byte ${start} of ${file.path} has not arrived yet (${file.bytesOnDisk} of ${file.size} bytes here); retry`,
      )
    }
    await sleep(POLL_MS, undefined, { signal })
  }
}

/** Aborts when the server stops or the client goes away while we wait. */
function goneSignal(reply: FastifyReply, signal: AbortSignal): AbortSignal {
  const gone = new AbortController()
  const onClose = () => gone.abort(new DOMException('the client went away', 'AbortError'))
  reply.raw.once('close', onClose)
  return AbortSignal.any([signal, gone.signal])
}

async function openOrNull(path: string): Promise<FileHandle | undefined> {
  try {
    return await open(path, constants.O_RDONLY | constants.O_NOFOLLOW)
  } catch {
    return undefined
  }
}

async function serveHandle(
  handle: FileHandle,
  path: string,
  req: FastifyRequest,
  reply: FastifyReply,
): Promise<void> {
  try {
    const st = await handle.stat()
    await serveOpened({ handle, size: st.size, mtime: st.mtimeMs }, path, req, reply)
  } catch (err) {
    await handle.close().catch(() => {})
    throw err
  }
}

/** A `.part` answer: what is here of the range, with the final size in `Content-Range`. */
function servePart(
  part: { handle: FileHandle; have: number; total: number; mtime: number },
  path: string,
  req: FastifyRequest,
  reply: FastifyReply,
): void {
  const range = wantedRange(req, reply, part.total)
  fileHeaders(reply, path, part.total, part.mtime)
  let start = 0
  let end = part.have - 1
  if (range === undefined) {
    reply.code(200).header('content-length', part.have)
  } else {
    start = range.offset
    end = Math.min(range.offset + range.length, part.have) - 1
    reply.code(206)
    reply.header('content-range', `bytes ${start}-${end}/${part.total}`)
    reply.header('content-length', end - start + 1)
  }
  if (req.method === 'HEAD' || end < start) {
    void part.handle.close()
    reply.send()
    return
  }
  // The stream owns the descriptor now (autoClose).
  reply.send(part.handle.createReadStream({ start, end }))
}
