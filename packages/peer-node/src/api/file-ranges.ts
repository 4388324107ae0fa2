import type { FileHandle } from 'node:fs/promises'
import type { FastifyReply, FastifyRequest } from 'fastify'
import mime from 'mime'
import parseRange from 'range-parser'
import { ApiError } from './api-error'

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
