import type { Entry } from '@harddrive-party/wire-protocol'
import { type CursorKind, type CursorMark, encodeCursor } from './cursor'
import { IndexStoreError } from './errors'

/** An entry with what a cursor needs to continue right after it. */
export interface PositionedEntry {
  entry: Entry
  mark: CursorMark
}

/** Entries are read from LMDB this many at a time, synchronously, then handed out one by one. */
const CHUNK = 256

export interface EntryStreamOptions {
  limit?: number
  signal?: AbortSignal
  /** The cursor the query started from (returned as-is when nothing was consumed). */
  cursor?: Uint8Array
}

/**
 * The result of `ls` and `search`: an async iterable of wire-protocol entries, plus the
 * cursor that continues right after the last entry handed out. `cursor` is `undefined` once
 * the stream ended with nothing left; when iteration stopped at `limit` (or the consumer broke
 * out early) it continues from there.
 */
export class EntryStream implements AsyncIterable<Entry> {
  readonly #kind: CursorKind
  readonly #hash: number
  readonly #produce: () => Generator<PositionedEntry>
  readonly #options: EntryStreamOptions
  #started = false
  #finished = false
  #last: CursorMark | undefined

  constructor(
    kind: CursorKind,
    hash: number,
    produce: () => Generator<PositionedEntry>,
    options: EntryStreamOptions,
  ) {
    this.#kind = kind
    this.#hash = hash
    this.#produce = produce
    this.#options = options
  }

  /** Continue after the last entry returned; `undefined` when everything was returned. */
  get cursor(): Uint8Array | undefined {
    if (this.#finished) return undefined
    if (this.#last === undefined) return this.#options.cursor
    return encodeCursor(this.#kind, this.#hash, this.#last)
  }

  /** Collects the stream into an array (handy for pages: `{ entries, cursor }`). */
  async page(): Promise<{ entries: Entry[]; cursor?: Uint8Array }> {
    const entries: Entry[] = []
    for await (const e of this) entries.push(e)
    const cursor = this.cursor
    return cursor === undefined ? { entries } : { entries, cursor }
  }

  async *[Symbol.asyncIterator](): AsyncGenerator<Entry, void, undefined> {
    if (this.#started)
      throw new IndexStoreError('INVALID_STATE', 'an entry stream is iterated once')
    this.#started = true
    const { signal } = this.#options
    const limit = this.#options.limit ?? Number.POSITIVE_INFINITY
    signal?.throwIfAborted()
    const source = this.#produce()
    let buffer: PositionedEntry[] = []
    let at = 0
    let exhausted = false
    const next = (): PositionedEntry | undefined => {
      if (at === buffer.length) {
        if (exhausted) return undefined
        buffer = []
        at = 0
        for (let n = 0; n < CHUNK; n++) {
          const r = source.next()
          if (r.done === true) {
            exhausted = true
            break
          }
          buffer.push(r.value)
        }
      }
      return buffer[at++]
    }
    try {
      let count = 0
      for (;;) {
        const item = next()
        if (item === undefined) {
          this.#finished = true
          return
        }
        if (count >= limit) return
        signal?.throwIfAborted()
        this.#last = item.mark
        count++
        yield item.entry
      }
    } finally {
      source.return(undefined)
    }
  }
}
