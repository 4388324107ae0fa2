import { isUtf8 } from 'node:buffer'
import { type Dirent, lstatSync, readdirSync, realpathSync, type Stats, statSync } from 'node:fs'
import { foldName } from './fold'
import { createIgnoreMatcher, type IgnoreMatcher, type IgnoreOptions } from './ignore'
import { encodeListing, type ListingInput } from './listing'
import { hasUnsafeNameChar } from './text'

/**
 * Reads one directory for the scanner: names, types, sizes and mtimes of its children,
 * packed as a listing. Synchronous on purpose: it runs in a worker thread (or in slices on the
 * main thread), where sync calls cost far less than promise round trips per file. Nothing the
 * file system returns can make it throw; refused entries come back in `skipped`.
 */

export type SkipReason =
  | 'unreadable'
  | 'vanished'
  | 'invalid-utf8'
  | 'unsafe-name'
  | 'path-too-long'
  | 'symlink-outside'
  | 'symlink-dir'
  | 'symlink-broken'
  | 'special-file'

export interface SkippedEntry {
  /** Path relative to the share root. */
  path: string
  reason: SkipReason
  /** The errno code when a system call failed. */
  code?: string
}

export interface ListJob {
  kind: 'list'
  id: number
  /** Real path of the share root: symlinks must resolve inside it. */
  realRoot: string
  /** Absolute path of the directory (inside the share's real root). */
  abs: string
  /** Path relative to the share root; `''` for the root. */
  rel: string
  /** UTF-8 length of the directory's share path (`<share>/<rel>`). */
  prefixBytes: number
}

export interface StatJob {
  kind: 'stat'
  id: number
  abs: string
  /** Subdirectory names to stat (from the previous listing). */
  names: string[]
}

export type DirJob = ListJob | StatJob

export interface SubdirInfo {
  /** Index of the subdirectory in `listing`. */
  index: number
  name: string
  mtime: number
}

export interface ListResult {
  kind: 'list'
  id: number
  /** When the directory was read (ms), taken before `readdir`. */
  listedAt: number
  listing: Uint8Array
  /** Folded names in listing order, each followed by `\n`. */
  names: Uint8Array
  subdirs: SubdirInfo[]
  fileBytes: number
  fileCount: number
  skipped: SkippedEntry[]
  ignored: number
  /** Set when the directory itself could not be read; everything else is then empty. */
  error?: { reason: SkipReason; code: string }
}

export interface StatResult {
  kind: 'stat'
  id: number
  /** mtime per requested name, or `null` when it is no longer a readable directory. */
  mtimes: (number | null)[]
}

export type DirResult = ListResult | StatResult

export interface ReaderConfig {
  ignore: IgnoreOptions
  maxPathBytes: number
}

/** A listing input that remembers its decoded name (and, for a directory, its own mtime). */
type Input = ListingInput & { text: string }

const REPLACEMENT = '\uFFFD'

function errnoCode(err: unknown): string {
  return typeof err === 'object' && err !== null && 'code' in err && typeof err.code === 'string'
    ? err.code
    : 'EUNKNOWN'
}

function reasonFor(code: string): SkipReason {
  return code === 'ENOENT' || code === 'ENOTDIR' ? 'vanished' : 'unreadable'
}

export class DirectoryReader {
  readonly #ignore: IgnoreMatcher
  readonly #maxPathBytes: number

  constructor(config: ReaderConfig) {
    this.#ignore = createIgnoreMatcher(config.ignore)
    this.#maxPathBytes = config.maxPathBytes
  }

  run(job: DirJob): DirResult {
    return job.kind === 'list' ? this.list(job) : this.stat(job)
  }

  stat(job: StatJob): StatResult {
    const mtimes: (number | null)[] = []
    for (const name of job.names) {
      const st = lstatSync(`${job.abs}/${name}`, { throwIfNoEntry: false })
      mtimes.push(st?.isDirectory() ? st.mtimeMs : null)
    }
    return { kind: 'stat', id: job.id, mtimes }
  }

  list(job: ListJob): ListResult {
    const listedAt = Date.now()
    const skipped: SkippedEntry[] = []
    const entries: Input[] = []
    let fileBytes = 0
    let fileCount = 0
    let ignored = 0
    let dirents: Dirent[]
    try {
      dirents = readdirSync(job.abs, { withFileTypes: true })
    } catch (err) {
      const code = errnoCode(err)
      return {
        kind: 'list',
        id: job.id,
        listedAt,
        listing: encodeListing([]),
        names: new Uint8Array(0),
        subdirs: [],
        fileBytes: 0,
        fileCount: 0,
        skipped: [],
        ignored: 0,
        error: { reason: reasonFor(code), code },
      }
    }
    const relPrefix = job.rel === '' ? '' : `${job.rel}/`
    let invalidUtf8: Set<string> | undefined
    for (const d of dirents) {
      const name = d.name
      const rel = relPrefix + name
      if (this.#ignore(rel, name)) {
        ignored++
        continue
      }
      if (name.includes(REPLACEMENT)) {
        // U+FFFD is either a real character or what Node put in place of invalid bytes.
        invalidUtf8 ??= this.#invalidNames(job.abs)
        if (invalidUtf8.has(name)) {
          skipped.push({ path: rel, reason: 'invalid-utf8' })
          continue
        }
      }
      if (hasUnsafeNameChar(name)) {
        skipped.push({ path: rel, reason: 'unsafe-name' })
        continue
      }
      const nameBytes = Buffer.from(name, 'utf8')
      if (job.prefixBytes + 1 + nameBytes.length > this.#maxPathBytes) {
        skipped.push({ path: rel, reason: 'path-too-long' })
        continue
      }
      const abs = `${job.abs}/${name}`
      let st: Stats | undefined
      try {
        st = lstatSync(abs, { throwIfNoEntry: false })
      } catch (err) {
        skipped.push({ path: rel, reason: 'unreadable', code: errnoCode(err) })
        continue
      }
      if (st === undefined) {
        skipped.push({ path: rel, reason: 'vanished', code: 'ENOENT' })
        continue
      }
      if (st.isSymbolicLink()) {
        const target = this.#followLink(abs, rel, job.realRoot, skipped)
        if (target === undefined) continue
        st = target
      }
      if (st.isFile()) {
        entries.push({ name: nameBytes, text: name, dir: false, size: st.size, mtime: st.mtimeMs })
        fileBytes += st.size
        fileCount++
      } else if (st.isDirectory()) {
        entries.push({ name: nameBytes, text: name, dir: true, size: 0, mtime: st.mtimeMs })
      } else {
        skipped.push({ path: rel, reason: 'special-file' })
      }
    }
    const listing = encodeListing(entries) // sorts entries
    let folded = ''
    const subdirs: SubdirInfo[] = []
    for (let i = 0; i < entries.length; i++) {
      const e = entries[i] as Input
      folded += `${foldName(e.text)}\n`
      if (e.dir) subdirs.push({ index: i, name: e.text, mtime: e.mtime })
    }
    const names = new Uint8Array(Buffer.byteLength(folded, 'utf8'))
    Buffer.from(names.buffer).write(folded, 'utf8')
    return {
      kind: 'list',
      id: job.id,
      listedAt,
      listing,
      names,
      subdirs,
      fileBytes,
      fileCount,
      skipped,
      ignored,
    }
  }

  /** Names (as Node decodes them) of the entries whose raw bytes are not valid UTF-8. */
  #invalidNames(dir: string): Set<string> {
    const out = new Set<string>()
    try {
      for (const raw of readdirSync(dir, { encoding: 'buffer' })) {
        if (!Buffer.from(raw).toString('utf8').includes(REPLACEMENT)) continue
        if (!isUtf8(raw)) out.add(raw.toString('utf8'))
      }
    } catch {
      // The directory vanished between the two reads: every stat below reports it.
    }
    return out
  }

  /** A symlink is followed only to a file inside the share; it is never a way out. */
  #followLink(
    abs: string,
    rel: string,
    realRoot: string,
    skipped: SkippedEntry[],
  ): Stats | undefined {
    let target: Stats
    let real: string
    try {
      target = statSync(abs)
      real = realpathSync(abs)
    } catch (err) {
      skipped.push({ path: rel, reason: 'symlink-broken', code: errnoCode(err) })
      return undefined
    }
    if (real !== realRoot && !real.startsWith(`${realRoot}/`)) {
      skipped.push({ path: rel, reason: 'symlink-outside' })
      return undefined
    }
    if (target.isDirectory()) {
      // Following directory links inside the share would list content twice or loop.
      skipped.push({ path: rel, reason: 'symlink-dir' })
      return undefined
    }
    return target
  }
}
