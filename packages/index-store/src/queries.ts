import { isWireError, limits, validateSharePath } from '@harddrive-party/wire-protocol'
import { hasControlChar } from '@harddrive-party/wire-protocol/internal'
import { type CursorMark, decodeCursor, queryHash } from './cursor'
import { EntryStream, type PositionedEntry } from './entry-stream'
import { IndexStoreError } from './errors'
import { foldName } from './fold'
import type { IndexTree, Location, ShareRow } from './index-tree'
import type { Listing } from './listing'

export interface LsOptions {
  /** List everything below `path` (depth-first, parents before children). Default `false`. */
  recursive?: boolean
  /** Continue after the entry a previous stream's `cursor` points at. */
  cursor?: Uint8Array
  /** Most entries to return. Default: all. */
  limit?: number
  signal?: AbortSignal
}

export interface SearchOptions {
  /** Only search below this share path. Default `''` (every share). */
  path?: string
  cursor?: Uint8Array
  /** Most entries to return. Default: all. */
  limit?: number
  signal?: AbortSignal
}

/** A sorted level of the tree: a directory's listing, or the list of shares at the root. */
interface Level {
  count: number
  name(i: number): string
  nameBytes(i: number): Uint8Array
  isDir(i: number): boolean
  find(name: Uint8Array): number
  entry(i: number): PositionedEntry['entry']
  /** The level below child `i` (a directory). */
  open(i: number): Level
}

export function checkLimit(limit: unknown): void {
  if (limit === undefined) return
  if (typeof limit !== 'number' || !Number.isInteger(limit) || limit < 1) {
    throw new IndexStoreError('BAD_QUERY', `limit must be a positive integer, got ${String(limit)}`)
  }
}

export function checkPath(path: unknown): string {
  try {
    return validateSharePath(path)
  } catch (err) {
    if (isWireError(err)) throw new IndexStoreError('BAD_PATH', err.message, { cause: err })
    throw err
  }
}

/** Splits a search term into folded words (all must appear in a name). */
export function searchWords(term: unknown): string[] {
  if (typeof term !== 'string')
    throw new IndexStoreError('BAD_QUERY', 'a search term must be a string')
  if (Buffer.byteLength(term, 'utf8') > limits.MAX_SEARCH_BYTES) {
    throw new IndexStoreError(
      'BAD_QUERY',
      `a search term is at most ${limits.MAX_SEARCH_BYTES} bytes`,
    )
  }
  if (hasControlChar(term))
    throw new IndexStoreError('BAD_QUERY', 'a search term cannot hold control characters')
  const words = foldName(term)
    .split(/\s+/)
    .filter((w) => w !== '')
  if (words.length === 0)
    throw new IndexStoreError('BAD_QUERY', 'a search term needs a non-blank word')
  return words
}

/** Answers `ls` and `search` from the tree. */
export class Queries {
  readonly #tree: IndexTree
  readonly #shares: () => ShareRow[]

  constructor(tree: IndexTree, shares: () => ShareRow[]) {
    this.#tree = tree
    this.#shares = shares
  }

  #share(path: string): ShareRow | undefined {
    const name = path.split('/', 1)[0]
    return this.#shares().find((s) => s.name === name)
  }

  #locate(path: string): Location {
    const loc = this.#tree.locate(path, this.#share(path))
    if (loc === undefined)
      throw new IndexStoreError('NOT_FOUND', `${JSON.stringify(path)} is not in the index`)
    return loc
  }

  #listingLevel(listing: Listing, dirPath: string): Level {
    const tree = this.#tree
    return {
      count: listing.count,
      name: (i) => listing.name(i),
      nameBytes: (i) => listing.nameBytes(i),
      isDir: (i) => listing.isDir(i),
      find: (n) => listing.find(n),
      entry: (i) => tree.entryAt(listing, i, dirPath),
      open: (i) =>
        this.#dirLevel(
          listing.childId(i),
          dirPath === '' ? listing.name(i) : `${dirPath}/${listing.name(i)}`,
        ),
    }
  }

  #dirLevel(id: number, dirPath: string): Level {
    const listing = this.#tree.listing(id)
    if (listing === undefined) return EMPTY_LEVEL
    return this.#listingLevel(listing, dirPath)
  }

  #rootLevel(): Level {
    const tree = this.#tree
    const shares = this.#shares()
      .map((s) => ({ row: s, bytes: Buffer.from(s.name, 'utf8') }))
      .sort((a, b) => Buffer.compare(a.bytes, b.bytes))
    const find = (n: Uint8Array): number => {
      let lo = 0
      let hi = shares.length - 1
      while (lo <= hi) {
        const mid = (lo + hi) >>> 1
        const c = Buffer.compare((shares[mid] as (typeof shares)[0]).bytes, n)
        if (c < 0) lo = mid + 1
        else if (c > 0) hi = mid - 1
        else return mid
      }
      return -lo - 1
    }
    const at = (i: number) => shares[i] as (typeof shares)[0]
    return {
      count: shares.length,
      name: (i) => at(i).row.name,
      nameBytes: (i) => at(i).bytes,
      isDir: () => true,
      find,
      entry: (i) => tree.dirEntry(at(i).row.name, tree.dir(at(i).row.rootId)),
      open: (i) => this.#dirLevel(at(i).row.rootId, at(i).row.name),
    }
  }

  ls(path: string, options: LsOptions = {}): EntryStream {
    const recursive = options.recursive === true
    const kind = recursive ? 'ls-recursive' : 'ls'
    const hash = queryHash(kind, typeof path === 'string' ? path : '')
    const produce = (): Generator<PositionedEntry> => {
      checkLimit(options.limit)
      checkPath(path)
      const resume =
        options.cursor === undefined
          ? undefined
          : (decodeCursor(kind, hash, options.cursor) as { rel: string })
      const loc = this.#locate(path)
      if (loc.kind === 'file') return this.#single(loc, resume)
      const top = loc.kind === 'root' ? this.#rootLevel() : this.#dirLevel(loc.id, loc.path)
      return recursive ? this.#walk(top, resume?.rel) : this.#flat(top, resume?.rel)
    }
    return new EntryStream(kind, hash, produce, options)
  }

  *#single(
    loc: Extract<Location, { kind: 'file' }>,
    resume: { rel: string } | undefined,
  ): Generator<PositionedEntry> {
    if (resume !== undefined) return
    const name = loc.listing.name(loc.index)
    const dirPath = loc.path.slice(0, loc.path.length - name.length - 1)
    yield { entry: this.#tree.entryAt(loc.listing, loc.index, dirPath), mark: { rel: name } }
  }

  *#flat(level: Level, after: string | undefined): Generator<PositionedEntry> {
    let i = 0
    if (after !== undefined) {
      const f = level.find(Buffer.from(after, 'utf8'))
      i = f >= 0 ? f + 1 : -f - 1
    }
    for (; i < level.count; i++) yield { entry: level.entry(i), mark: { rel: level.name(i) } }
  }

  /** Depth-first, parents before children, siblings in name order. */
  *#walk(top: Level, after: string | undefined): Generator<PositionedEntry> {
    const stack: { level: Level; i: number; rel: string }[] = [{ level: top, i: 0, rel: '' }]
    if (after !== undefined) {
      // Rebuild the stack of the walk as it stood right after `after`.
      const segments = after.split('/')
      stack.length = 0
      let level = top
      let rel = ''
      for (let s = 0; s < segments.length; s++) {
        const seg = segments[s] as string
        const f = level.find(Buffer.from(seg, 'utf8'))
        if (f < 0) {
          stack.push({ level, i: -f - 1, rel })
          break
        }
        stack.push({ level, i: f + 1, rel })
        if (!level.isDir(f)) break
        const below = level.open(f)
        const childRel = `${rel}${seg}/`
        if (s === segments.length - 1) {
          // `after` was a directory: its children come next.
          stack.push({ level: below, i: 0, rel: childRel })
          break
        }
        level = below
        rel = childRel
      }
    }
    while (stack.length > 0) {
      const top = stack[stack.length - 1] as (typeof stack)[0]
      if (top.i >= top.level.count) {
        stack.pop()
        continue
      }
      const i = top.i++
      const rel = top.rel + top.level.name(i)
      yield { entry: top.level.entry(i), mark: { rel } }
      if (top.level.isDir(i)) stack.push({ level: top.level.open(i), i: 0, rel: `${rel}/` })
    }
  }

  search(term: string, options: SearchOptions = {}): EntryStream {
    const scope = options.path ?? ''
    const hash = queryHash(
      'search',
      typeof scope === 'string' ? scope : '',
      typeof term === 'string' ? term : '',
    )
    const produce = (): Generator<PositionedEntry> => {
      checkLimit(options.limit)
      const words = searchWords(term)
      checkPath(scope)
      const resume =
        options.cursor === undefined
          ? undefined
          : (decodeCursor('search', hash, options.cursor) as Extract<CursorMark, { dirId: number }>)
      const loc = this.#locate(scope)
      return this.#search(words, loc, resume)
    }
    return new EntryStream('search', hash, produce, options)
  }

  *#search(
    words: string[],
    scope: Location,
    resume: Extract<CursorMark, { dirId: number }> | undefined,
  ): Generator<PositionedEntry> {
    const tree = this.#tree
    const matches = (name: string) => {
      const folded = foldName(name)
      for (const w of words) if (!folded.includes(w)) return false
      return true
    }
    if (scope.kind === 'file') {
      const name = scope.listing.name(scope.index)
      if (resume === undefined && matches(name)) {
        const dirPath = scope.path.slice(0, scope.path.length - name.length - 1)
        yield {
          entry: tree.entryAt(scope.listing, scope.index, dirPath),
          mark: { dirId: scope.parentId, name: scope.listing.nameBytes(scope.index) },
        }
      }
      return
    }
    // The longest word is the rarest, on average: it drives the prefilter.
    let longest = words[0] as string
    for (const w of words) if (Buffer.byteLength(w) > Buffer.byteLength(longest)) longest = w
    const needle = Buffer.from(longest, 'utf8')
    const scopeId = scope.kind === 'dir' ? scope.id : 0
    const paths = new Map<number, string | undefined>()
    const inScope = new Map<number, boolean>()
    const isInScope = (id: number): boolean => {
      if (scopeId === 0) return true
      const seen: number[] = []
      let at = id
      let answer = false
      for (let depth = 0; depth < 4096; depth++) {
        const known = inScope.get(at)
        if (known !== undefined) {
          answer = known
          break
        }
        seen.push(at)
        if (at === scopeId) {
          answer = true
          break
        }
        const rec = tree.dir(at)
        if (rec === undefined || rec.parentId === 0) break
        at = rec.parentId
      }
      for (const s of seen) inScope.set(s, answer)
      return answer
    }
    for (const id of tree.search.candidates(needle, resume?.dirId ?? 0)) {
      if (!isInScope(id)) continue
      const listing = tree.listing(id)
      if (listing === undefined) continue
      const dirPath = tree.pathOf(id, paths)
      if (dirPath === undefined) continue
      const start = resume !== undefined && id === resume.dirId ? listing.after(resume.name) : 0
      for (let i = start; i < listing.count; i++) {
        if (!matches(listing.name(i))) continue
        yield {
          entry: tree.entryAt(listing, i, dirPath),
          mark: { dirId: id, name: listing.nameBytes(i) },
        }
      }
    }
  }
}

const EMPTY_LEVEL: Level = {
  count: 0,
  name: () => '',
  nameBytes: () => new Uint8Array(0),
  isDir: () => false,
  find: () => -1,
  entry: () => ({ path: '', size: 0, dir: false }),
  open: () => EMPTY_LEVEL,
}
