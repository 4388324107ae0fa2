import { randomUUID } from 'node:crypto'
import { isSharePath } from '@harddrive-party/wire-protocol'
import { hasControlChar } from '@harddrive-party/wire-protocol/internal'
import { IndexStoreError } from './errors'
import type { WishlistRequest } from './wishlist-rows'

/** A file (or the files of a directory) to download from a remote share path. */
export interface WishlistRequestInput {
  /** The remote peer: 32-byte public key or its 64-character hex form. */
  peer: Uint8Array | string
  /** Remote share path asked for. */
  path: string
  /** True for a directory request (then `files` lists what it holds). Default `false`. */
  dir?: boolean
  /** Size of the file, or total of the directory; default: sum of `files`. */
  size?: number
  /** Remote mtime (ms) of the file or directory, if known. */
  mtime?: number
  /**
   * Files to fetch, at or below `path`. A file request may leave it out when it gives `size`.
   * A directory request's files keep their order (the remote listing's order).
   */
  files?: { path: string; size: number; mtime?: number }[]
  /** Where the download goes on this machine (decided by the caller; stored as given). */
  destination: string
  /** Caller-chosen id (makes retrying an `add` after a crash safe); default: a random UUID. */
  id?: string
  /** 1-based queue position; default: last. */
  position?: number
  /**
   * The files are not known yet: they are appended page by page (`appendFiles`) and the request
   * cannot finish until the last page says so. `files` may then be empty. Default `false`.
   */
  expand?: boolean
}

/** A request input that passed every check, with its defaults filled in (`peer` as hex). */
export interface CheckedRequestInput
  extends Pick<WishlistRequest, 'id' | 'peer' | 'path' | 'dir' | 'destination' | 'size'> {
  mtime: number | undefined
  position: number | undefined
  files: { path: string; size: number; mtime?: number }[]
  expand: boolean
}

const MAX_FILES = 1_000_000
const MAX_TEXT = 4096
const HEX_KEY = /^[0-9a-f]{64}$/

export function isUint(n: unknown): n is number {
  return typeof n === 'number' && Number.isSafeInteger(n) && n >= 0
}

/** Throws the `BAD_REQUEST` error every refused caller input gets. */
export function bad(message: string): never {
  throw new IndexStoreError('BAD_REQUEST', message)
}

/** A peer key (bytes or hex, as callers give it) as lowercase hex. */
export function peerHex(peer: unknown): string {
  if (peer instanceof Uint8Array) {
    if (peer.length !== 32) bad(`a peer key is 32 bytes, got ${peer.length}`)
    return Buffer.from(peer).toString('hex')
  }
  if (typeof peer === 'string') {
    const hex = peer.toLowerCase()
    if (!HEX_KEY.test(hex)) bad('a peer key is 64 hex characters')
    return hex
  }
  return bad('a peer key must be a Uint8Array or a hex string')
}

/** Checks a caller's request (it is hostile until proven otherwise) and fills in defaults. */
export function checkRequestInput(input: WishlistRequestInput): CheckedRequestInput {
  if (typeof input !== 'object' || input === null) bad('a request must be an object')
  const peer = peerHex(input.peer)
  if (!isSharePath(input.path) || input.path === '') bad('path must be a share path below the root')
  const dir = input.dir === true
  if (
    typeof input.destination !== 'string' ||
    input.destination === '' ||
    input.destination.length > MAX_TEXT ||
    input.destination.includes('\u0000')
  ) {
    bad('destination must be a non-empty path')
  }
  const id = input.id ?? randomUUID()
  if (typeof id !== 'string' || id === '' || id.length > 128 || hasControlChar(id))
    bad('id must be 1 to 128 printable characters')
  if (input.mtime !== undefined && !isUint(input.mtime)) bad('mtime must be a non-negative integer')
  if (input.position !== undefined && (!Number.isInteger(input.position) || input.position < 1)) {
    bad('position must be a positive integer')
  }
  const expand = input.expand === true
  let files = input.files
  if (files === undefined && expand) files = []
  if (files === undefined) {
    if (dir) bad('a directory request lists its files')
    if (!isUint(input.size)) bad('a file request needs its size')
    files = [
      {
        path: input.path,
        size: input.size,
        ...(input.mtime === undefined ? {} : { mtime: input.mtime }),
      },
    ]
  }
  if (!Array.isArray(files) || files.length > MAX_FILES)
    bad(`files must be an array of at most ${MAX_FILES}`)
  if (!dir && !expand && files.length !== 1) bad('a file request has exactly one file')
  const total = checkFiles(files, input.path, dir || expand, expand)
  const size = input.size ?? total
  if (!isUint(size)) bad('size must be a non-negative integer')
  return {
    id,
    peer,
    path: input.path,
    dir,
    destination: input.destination,
    size,
    mtime: input.mtime,
    position: input.position,
    files,
    expand,
  }
}

/**
 * Checks files given for a request at `path` (hostile until proven otherwise); returns their
 * total size. Below `path` for a directory; `path` itself for a file, or for an expanding
 * request whose path turned out to be a file.
 */
export function checkFiles(
  files: readonly { path: string; size: number; mtime?: number }[],
  path: string,
  dir: boolean,
  selfAllowed: boolean,
): number {
  const prefix = `${path}/`
  let total = 0
  for (const f of files) {
    if (typeof f !== 'object' || f === null || !isUint(f.size)) bad('each file needs a size')
    if (f.mtime !== undefined && !isUint(f.mtime))
      bad('a file mtime must be a non-negative integer')
    const below = dir && typeof f.path === 'string' && f.path.startsWith(prefix)
    const self = (!dir || selfAllowed) && f.path === path
    if (!(below || self) || !isSharePath(f.path))
      bad(`file ${JSON.stringify(f.path)} is not ${dir ? 'below' : ''} ${path}`)
    total += f.size
  }
  return total
}
