import type { FileHandle } from 'node:fs/promises'
import { Readable } from 'node:stream'
import { validateSharePath } from '@harddrive-party/wire-protocol'
import type { FastifyReply, FastifyRequest } from 'fastify'
import mime from 'mime'
import parseRange from 'range-parser'
import type { PeerNode } from '../types'
import { resolvePeer } from './api-commands'
import { serveDownload } from './api-download-files'
import { ApiError } from './api-error'

/**
 * `GET /files/shares/<share path>`: one of our shared files (index-store proves the opened
 * descriptor lies inside its share, so symlinks out of a share are refused).
 * `GET /files/peer/<key or name>/<share path>`: a connected peer's file, streamed straight
 * through with backpressure. Both honour one `Range` (the browser's `<video>` seeks with it).
 */
export async function serveFile(
  node: PeerNode,
  req: FastifyRequest,
  reply: FastifyReply,
  signal: AbortSignal,
): Promise<void> {
  const [where, ...rest] = fileSegments(req.raw.url ?? '')
  if (where === 'shares') {
    await serveOwn(node, joinSharePath(rest), req, reply, signal)
  } else if (where === 'downloads' && rest.length === 2) {
    await serveDownload(node, rest[0] as string, rest[1] as string, req, reply, signal)
  } else if (where === 'peer' && rest.length >= 2) {
    const peer = resolvePeer(node, rest[0] as string)
    const path = joinSharePath(rest.slice(1))
    if (peer === 'self') await serveOwn(node, path, req, reply, signal)
    else await servePeer(node, peer.hex, path, req, reply, signal)
  } else {
    throw new ApiError(
      'NOT_FOUND',
      'files live under /files/shares/, /files/downloads/<id>/<index> and /files/peer/<peer>/',
    )
  }
}

/**
 * The path after `/files/`, split on `/` *before* percent-decoding, so `%2f` can never make a
 * separator and `%2e%2e` is caught as `..` after decoding.
 */
export function fileSegments(rawUrl: string): string[] {
  const pathname = rawUrl.split('?')[0] ?? ''
  if (!pathname.startsWith('/files/')) throw new ApiError('NOT_FOUND', 'not a file URL')
  return pathname
    .slice('/files/'.length)
    .split('/')
    .map((segment) => {
      let decoded: string
      try {
        decoded = decodeURIComponent(segment)
      } catch {
        throw new ApiError('BAD_REQUEST', 'malformed percent-encoding in the file path')
      }
      if (decoded === '' || decoded === '.' || decoded === '..' || /[/\\\0]/.test(decoded)) {
        throw new ApiError(
          'BAD_REQUEST',
          'a file path segment is empty, a dot segment or holds a slash',
        )
      }
      return decoded
    })
}

function joinSharePath(segments: string[]): string {
  if (segments.length === 0) throw new ApiError('NOT_FOUND', 'no file named')
  return validateSharePath(segments.join('/'))
}

/** Headers every file answer carries: its type, and no way for it to act as our origin. */
export function fileHeaders(reply: FastifyReply, path: string, size: number, mtime: number): void {
  reply.header('content-type', mime.getType(path) ?? 'application/octet-stream')
  reply.header('accept-ranges', 'bytes')
  reply.header('last-modified', new Date(mtime).toUTCString())
  // A shared .html or .svg must not run script with our origin (it could call the API with the
  // browser's cookie): sandboxed, it gets an opaque origin, which the Origin check refuses.
  reply.header('content-security-policy', 'sandbox')
  reply.header('x-content-type-options', 'nosniff')
  reply.header('cache-control', 'no-store')
  void size
}

/** The one range to send: `undefined` for the whole file. `BAD_RANGE` (416) when unsatisfiable. */
export function wantedRange(req: FastifyRequest, reply: FastifyReply, size: number) {
  const header = req.headers.range
  if (header === undefined) return undefined
  const ranges = parseRange(size, header, { combine: true })
  if (ranges === -1) {
    reply.header('content-range', `bytes */${size}`)
    throw new ApiError('BAD_RANGE', `no byte of ${header} lies within ${size} bytes`)
  }
  // Malformed (-2), other units, or several ranges: answer with the whole file (RFC 9110 allows).
  if (ranges === -2 || ranges.type !== 'bytes' || ranges.length !== 1) return undefined
  const r = ranges[0] as { start: number; end: number }
  return { offset: r.start, length: r.end - r.start + 1 }
}

export function sendRange(
  reply: FastifyReply,
  size: number,
  range: { offset: number; length: number } | undefined,
): void {
  if (range === undefined) {
    reply.code(200).header('content-length', size)
  } else {
    reply.code(206)
    reply.header(
      'content-range',
      `bytes ${range.offset}-${range.offset + range.length - 1}/${size}`,
    )
    reply.header('content-length', range.length)
  }
}

async function serveOwn(
  node: PeerNode,
  path: string,
  req: FastifyRequest,
  reply: FastifyReply,
  signal: AbortSignal,
): Promise<void> {
  await serveOpened(await node.store.open(path, { signal }), path, req, reply)
}

export async function serveOpened(
  file: { handle: FileHandle; size: number; mtime: number },
  path: string,
  req: FastifyRequest,
  reply: FastifyReply,
): Promise<void> {
  try {
    const range = wantedRange(req, reply, file.size)
    fileHeaders(reply, path, file.size, file.mtime)
    sendRange(reply, file.size, range)
    const start = range?.offset ?? 0
    const length = range?.length ?? file.size
    if (req.method === 'HEAD' || length === 0) {
      await file.handle.close()
      return reply.send()
    }
    // The stream owns the descriptor now (autoClose).
    const stream = file.handle.createReadStream({ start, end: start + length - 1 })
    return reply.send(stream)
  } catch (err) {
    await file.handle.close().catch(() => {})
    throw err
  }
}

async function servePeer(
  node: PeerNode,
  key: string,
  path: string,
  req: FastifyRequest,
  reply: FastifyReply,
  signal: AbortSignal,
): Promise<void> {
  const client = node.client(key)
  // The size comes first (a suffix range needs it): an empty read answers with the header only.
  const probe = await client.read(path, { offset: 0, length: 0 }, { signal })
  for await (const _ of probe.body) break
  const range = wantedRange(req, reply, probe.size)
  fileHeaders(reply, path, probe.size, probe.mtime)
  sendRange(reply, probe.size, range)
  const length = range?.length ?? probe.size
  if (req.method === 'HEAD' || length === 0) return reply.send()
  const remote = await client.read(
    path,
    { offset: range?.offset ?? 0, length, expect: { size: probe.size, mtime: probe.mtime } },
    { signal },
  )
  // Destroying the stream (the browser went away) ends the iteration, which aborts the read.
  return reply.send(Readable.from(remote.body, { objectMode: false }))
}
