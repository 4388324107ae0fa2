import { isUtf8 } from 'node:buffer'
import { isSharePath, limits } from '@harddrive-party/wire-protocol'
import { IndexStoreError } from './errors'

/**
 * Opaque continuation tokens. A cursor names the last entry returned (its path below the
 * listed directory, or its directory id and name for a search) rather than an offset, so
 * a listing that changed between two pages continues at the right place: after that name.
 *
 * Layout: u8 magic 0x68, u8 version 1, u8 kind, u8 0, u32 hash of the query (a cursor is
 * refused by any other query), then the payload.
 */
const MAGIC = 0x68
const VERSION = 1
const HEADER_BYTES = 8

export type CursorKind = 'ls' | 'ls-recursive' | 'search'
const KIND_BYTE: Record<CursorKind, number> = { ls: 1, 'ls-recursive': 2, search: 3 }

/** The last entry a stream returned. */
export type CursorMark = { rel: string } | { dirId: number; name: Uint8Array }

/** FNV-1a over the query, so that a cursor is only accepted by the query that made it. */
export function queryHash(kind: CursorKind, path: string, term = ''): number {
  let h = 0x811c9dc5
  const s = `${kind}\u0000${path}\u0000${term}`
  for (let i = 0; i < s.length; i++) {
    h ^= s.charCodeAt(i)
    h = Math.imul(h, 0x01000193) >>> 0
  }
  return h
}

export function encodeCursor(kind: CursorKind, hash: number, mark: CursorMark): Uint8Array {
  const payload =
    'rel' in mark ? Buffer.from(mark.rel, 'utf8') : Buffer.concat([Buffer.alloc(4), mark.name])
  if (!('rel' in mark)) payload.writeUInt32LE(mark.dirId, 0)
  const out = new Uint8Array(HEADER_BYTES + payload.length)
  const view = new DataView(out.buffer)
  out[0] = MAGIC
  out[1] = VERSION
  out[2] = KIND_BYTE[kind]
  view.setUint32(4, hash, true)
  out.set(payload, HEADER_BYTES)
  return out
}

function bad(why: string): never {
  throw new IndexStoreError('BAD_CURSOR', why)
}

export function decodeCursor(kind: CursorKind, hash: number, cursor: unknown): CursorMark {
  if (!(cursor instanceof Uint8Array)) bad('a cursor must be a Uint8Array')
  if (cursor.length < HEADER_BYTES || cursor.length > limits.MAX_CURSOR_BYTES) {
    bad(`a cursor is ${HEADER_BYTES} to ${limits.MAX_CURSOR_BYTES} bytes, got ${cursor.length}`)
  }
  const view = new DataView(cursor.buffer, cursor.byteOffset, cursor.byteLength)
  if (cursor[0] !== MAGIC || cursor[1] !== VERSION) bad('not a cursor of this store')
  if (cursor[2] !== KIND_BYTE[kind]) bad(`not a cursor of a ${kind} query`)
  if (view.getUint32(4, true) !== hash) bad('the cursor belongs to another query')
  const payload = Buffer.from(
    cursor.buffer,
    cursor.byteOffset + HEADER_BYTES,
    cursor.length - HEADER_BYTES,
  )
  if (kind === 'search') {
    if (payload.length < 5) bad('truncated search cursor')
    const name = payload.subarray(4)
    if (!isUtf8(name)) bad('cursor name is not UTF-8')
    return { dirId: payload.readUInt32LE(0), name: Uint8Array.from(name) }
  }
  if (!isUtf8(payload)) bad('cursor path is not UTF-8')
  const rel = payload.toString('utf8')
  if (rel === '' || !isSharePath(rel)) bad('cursor path is not a relative share path')
  if (kind === 'ls' && rel.includes('/')) bad('a non-recursive cursor names one entry')
  return { rel }
}
