import { Readable } from 'node:stream'
import { validateSharePath } from '@harddrive-party/wire-protocol'
import type { FastifyReply, FastifyRequest } from 'fastify'
import type { PeerNode } from '../types'
import { resolvePeer } from './api-commands'
import { serveDownload } from './api-download-files'
import { ApiError } from './api-error'
import { fileHeaders, sendRange, serveOpened, wantedRange } from './file-ranges'

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

async function serveOwn(
  node: PeerNode,
  path: string,
  req: FastifyRequest,
  reply: FastifyReply,
  signal: AbortSignal,
): Promise<void> {
  await serveOpened(await node.store.open(path, { signal }), path, req, reply)
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
