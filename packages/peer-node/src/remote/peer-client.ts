import type { Connection, TransportStream } from '@harddrive-party/transport'
import type { AbortOptions, CreateLogger, Logger } from '@harddrive-party/wire-protocol'
import {
  decodeLsResponse,
  decodeReadResponse,
  decodeWatchResponse,
  type Entry,
  type ExpectedFile,
  encodeFrame,
  type LsRequest,
  type ReadManyFile,
  type ReadManyRequest,
  type ReadRequest,
  understandsReadMany,
  validateSharePath,
} from '@harddrive-party/wire-protocol'
import { encodeCbor } from '@harddrive-party/wire-protocol/internal'
import { PeerNodeError, remoteError } from '../errors'
import { defaultLogger } from '../logger'

export type { AbortOptions }

import { checkReadMany, type ReadManyResult, readManyAnswer } from './read-many-answer'
import { decodeAnswerFrame, ResponseReader } from './response-reader'

export interface ListOptions extends AbortOptions {
  /** List everything below the path, not only its children. Default `false`. */
  recursive?: boolean
  /** Entries per request (the peer caps it at 10,000). Default: the peer's default (1,000). */
  pageSize?: number
  /** Continue a listing from a page's `cursor` (kept across restarts by a folder download). */
  cursor?: Uint8Array
}

export interface SearchOptions extends AbortOptions {
  /** Only search below this share path. Default `''`: every share. */
  path?: string
  pageSize?: number
  cursor?: Uint8Array
}

/** One answer of the peer: its entries, and the cursor of the next page (absent on the last). */
export interface EntryPage {
  entries: Entry[]
  cursor?: Uint8Array
}

export interface ReadRange {
  /** First byte. Default 0. */
  offset?: number
  /** Bytes wanted. Default: to the end of the file. */
  length?: number
  /** What we believe the file is; when it differs the peer answers `CHANGED`. */
  expect?: ExpectedFile
}

/** Progress of a read waiting for one of the peer's upload slots. */
export interface ReadQueuedEvent {
  type: 'peer-node:read-queued'
  /** 1 = next. */
  position: number
}

export interface ReadOptions extends AbortOptions {
  onProgress?: (event: ReadQueuedEvent) => void
  /**
   * A big read: its stream goes on the connection's bulk lane where the transport has one
   * (UDX to a 1.2 peer; transport's `openStream({ bulk })`). Default false.
   */
  bulk?: boolean
}

/** A read the peer started: the file as it is now, and exactly `length` bytes in `body`. */
export interface RemoteRead {
  size: number
  mtime: number
  offset: number
  length: number
  /**
   * The bytes, with backpressure (the peer sends as fast as this is consumed). Iterate it once;
   * leaving the loop early aborts the transfer. Stopping short throws `INTERRUPTED`.
   */
  body: AsyncIterable<Uint8Array>
  /** Gives up the transfer (when `body` will not be read). */
  abort(): void
}

export interface PeerClientOptions {
  logger?: CreateLogger
}

/**
 * Asks a connected peer for its listings and file bytes (docs/protocol.md §7): one stream per
 * request. Everything the peer answers is validated; its `error` answers become
 * {@link PeerNodeError}s with the same code (`NOT_FOUND`, `BUSY`, `CHANGED`...).
 */
export class PeerClient {
  readonly #connection: Pick<Connection, 'openStream'>
  readonly #log: Logger
  /** Whether the peer's hello named protocol 1.1 or newer: it answers {@link readMany}. */
  readonly understandsReadMany: boolean

  constructor(
    connection: Pick<Connection, 'openStream'> & Partial<Pick<Connection, 'remoteVersion'>>,
    options: PeerClientOptions = {},
  ) {
    this.#connection = connection
    this.#log = (options.logger ?? defaultLogger)('client')
    const version = connection.remoteVersion
    this.understandsReadMany = version !== undefined && understandsReadMany(version)
  }

  /** The entries at (or below) `path`, page after page; `''` lists the peer's shares. */
  async *ls(path: string, options: ListOptions = {}): AsyncGenerator<Entry> {
    for await (const page of this.lsPages(path, options)) yield* page.entries
  }

  /** Like {@link ls}, a page at a time, each with the cursor that continues after it. */
  async *lsPages(path: string, options: ListOptions = {}): AsyncGenerator<EntryPage> {
    checkPath(path)
    const request: LsRequest = { type: 'ls', path, recursive: options.recursive === true }
    yield* this.#pages(request, path, options)
  }

  /** Names matching every word of `query` (ignoring case and accents), page after page. */
  async *search(query: string, options: SearchOptions = {}): AsyncGenerator<Entry> {
    for await (const page of this.searchPages(query, options)) yield* page.entries
  }

  async *searchPages(query: string, options: SearchOptions = {}): AsyncGenerator<EntryPage> {
    const path = options.path ?? ''
    checkPath(path)
    const request: LsRequest = { type: 'ls', path, recursive: true, search: query }
    yield* this.#pages(request, path, options)
  }

  /**
   * Reads a file (or a range of it, for resume). Resolves once the peer starts sending, which
   * may take a while: its upload slots are shared, and `onProgress` hears the queue position.
   */
  async read(path: string, range: ReadRange = {}, options: ReadOptions = {}): Promise<RemoteRead> {
    checkPath(path)
    if (path === '') throw new PeerNodeError('BAD_PATH', 'read needs a file path, got the root')
    const request: ReadRequest = { type: 'read', path, offset: range.offset ?? 0 }
    if (range.length !== undefined) request.length = range.length
    if (range.expect !== undefined) request.expect = range.expect
    const stream = await this.#request(request, { ...options, bulk: options.bulk === true })
    const reader = new ResponseReader(stream, options.signal)
    try {
      for (;;) {
        const message = decodeAnswerFrame(decodeReadResponse, await reader.nextFrame())
        if (message.type === 'error') throw remoteError(message.code, message.message)
        if (message.type === 'queued') {
          options.onProgress?.({ type: 'peer-node:read-queued', position: message.position })
          continue
        }
        if (
          message.offset !== request.offset ||
          (request.length !== undefined && message.length > request.length)
        ) {
          throw new PeerNodeError(
            'BAD_RESPONSE',
            `asked for ${request.length ?? 'all'} bytes at ${request.offset}, the peer offers ${message.length} at ${message.offset}`,
          )
        }
        const { size, mtime, offset, length } = message
        return {
          size,
          mtime,
          offset,
          length,
          body: body(reader, length),
          abort: () => reader.abort(),
        }
      }
    } catch (err) {
      reader.abort()
      throw err
    }
  }

  /**
   * Reads many whole small files in one request (protocol 1.1 `read-many`, only for a peer that
   * {@link understandsReadMany}): each file's bytes, or the peer's reason for not sending it
   * (`NOT_FOUND`, `CHANGED`...), in the order asked, as each is complete. A peer that breaks
   * off or lies (see `read-many-answer.ts`) ends the iteration with `INTERRUPTED` or
   * `BAD_RESPONSE`: the files not yielded were not received. Leaving the loop early aborts
   * the request.
   */
  async *readMany(
    files: readonly ReadManyFile[],
    options: ReadOptions = {},
  ): AsyncGenerator<ReadManyResult> {
    for (const f of files) checkPath(f.path)
    checkReadMany(files)
    const request = {
      type: 'read-many' as const,
      files: files.map(({ path, size, mtime }) => ({ path, size, mtime })),
    }
    const stream = await this.#request(request, options)
    const reader = new ResponseReader(stream, options.signal)
    let complete = false
    try {
      yield* readManyAnswer(reader, files, options.onProgress)
      complete = true
    } finally {
      if (!complete) reader.abort()
    }
  }

  /**
   * The peer's shares version (docs/protocol.md §7.4): the current one first, then each new one
   * when its shares change. Drop what you cached from the peer whenever a new value arrives.
   */
  async *watchShares(options: AbortOptions = {}): AsyncGenerator<number> {
    const stream = await this.#request({ type: 'watch' }, { ...options, keepOpen: true })
    const reader = new ResponseReader(stream, options.signal)
    let last: number | undefined
    try {
      for (;;) {
        const frame = await reader.nextFrame()
        if (frame === undefined) return // the peer ended the watch
        const message = decodeAnswerFrame(decodeWatchResponse, frame)
        if (message.type === 'error') throw remoteError(message.code, message.message)
        if (message.version === last) continue
        last = message.version
        yield message.version
      }
    } finally {
      reader.abort()
    }
  }

  async *#pages(
    request: LsRequest,
    path: string,
    options: ListOptions | SearchOptions,
  ): AsyncGenerator<EntryPage> {
    if (options.pageSize !== undefined) request.limit = options.pageSize
    let cursor = options.cursor
    do {
      const page = await this.#page(
        cursor === undefined ? request : { ...request, cursor },
        path,
        options,
      )
      cursor = page.cursor
      yield page
    } while (cursor !== undefined)
  }

  /** One `ls` request: its entries (checked to lie below `path`) and its cursor. */
  async #page(request: LsRequest, path: string, options: AbortOptions): Promise<EntryPage> {
    const stream = await this.#request(request, options)
    const reader = new ResponseReader(stream, options.signal)
    const max = request.limit === undefined || request.limit === 0 ? 1000 : request.limit
    const entries: Entry[] = []
    let dropped = 0
    let done = false
    try {
      for (;;) {
        const message = decodeAnswerFrame(decodeLsResponse, await reader.nextFrame())
        if (message.type === 'error') throw remoteError(message.code, message.message)
        if (message.type === 'end') {
          await reader.expectEnd()
          done = true
          if (dropped > 0) this.#log('dropped %d entries outside %s', dropped, path || '/')
          return message.cursor === undefined ? { entries } : { entries, cursor: message.cursor }
        }
        for (const entry of message.entries) {
          if (isBelow(entry.path, path)) entries.push(entry)
          else dropped++
        }
        if (entries.length + dropped > max) {
          throw new PeerNodeError(
            'BAD_RESPONSE',
            `the peer sent more than the ${max} entries asked for`,
          )
        }
      }
    } finally {
      if (!done) reader.abort()
    }
  }

  /** Opens a stream and sends `request`; ends our side unless the request stays open (watch). */
  async #request(
    request: LsRequest | ReadRequest | ReadManyRequest | { type: 'watch' },
    options: AbortOptions & { keepOpen?: boolean; bulk?: boolean },
  ): Promise<TransportStream> {
    options.signal?.throwIfAborted()
    let stream: TransportStream | undefined
    try {
      const bulk = options.bulk === true ? { bulk: true } : {}
      stream = await this.#connection.openStream(
        options.signal ? { signal: options.signal, ...bulk } : bulk,
      )
      await stream.write(encodeFrame(encodeCbor(request)))
      if (options.keepOpen !== true) await stream.end()
      return stream
    } catch (err) {
      stream?.abort()
      options.signal?.throwIfAborted()
      throw new PeerNodeError('INTERRUPTED', `could not send the request: ${String(err)}`, {
        cause: err,
      })
    }
  }
}

/** Creates a client for the peer at the other end of `connection`. */
export function createPeerClient(
  connection: Pick<Connection, 'openStream'> & Partial<Pick<Connection, 'remoteVersion'>>,
  options: PeerClientOptions = {},
): PeerClient {
  return new PeerClient(connection, options)
}

async function* body(reader: ResponseReader, length: number): AsyncGenerator<Uint8Array> {
  let complete = false
  try {
    yield* reader.bytes(length)
    await reader.expectEnd()
    complete = true
  } finally {
    if (!complete) reader.abort()
  }
}

function checkPath(path: string): void {
  try {
    validateSharePath(path)
  } catch (err) {
    throw new PeerNodeError('BAD_PATH', err instanceof Error ? err.message : String(err), {
      cause: err,
    })
  }
}

function isBelow(entryPath: string, path: string): boolean {
  return path === '' || entryPath === path || entryPath.startsWith(`${path}/`)
}
