import { availableParallelism } from 'node:os'
import { resolve as resolvePath } from 'node:path'
import type { AbortOptions, CreateLogger, Logger } from '@harddrive-party/wire-protocol'
import { TypedEventEmitter } from 'main-event'
import { openDatabases, remapSearch, type StoreDatabases } from './database'
import type { EntryStream } from './entry-stream'
import { IndexStoreError } from './errors'
import { createIgnoreMatcher } from './ignore'
import { IndexTree } from './index-tree'
import { defaultLogger } from './logger'
import { type LsOptions, Queries, type SearchOptions } from './queries'
import { type OpenedFile, type ResolvedPath, Resolver, type SmallFile } from './resolve'
import type { ScanProgressEvent, ShareScanSummary } from './scan-report'
import { ScanScheduler } from './scan-scheduler'
import { SearchIndex } from './search-index'
import { type Share, ShareRegistry } from './shares'
import { TopicList } from './topics'
import { Wishlist } from './wishlist'

export interface IndexStoreOptions {
  /** Directory of the LMDB database (created if missing). */
  path: string
  /** Extra picomatch globs to skip; a glob without `/` matches names at any depth. */
  ignore?: readonly string[]
  /** Skip NAS and desktop clutter (`@eaDir`, `#recycle`, `.DS_Store`...). Default `true`. */
  defaultIgnores?: boolean
  /** Worker threads reading directories during a scan; 0 scans on the main thread. Default: min(2, cores). */
  scanThreads?: number
  /** How often wishlist download progress is written, in ms. Default 1000. */
  progressFlushMs?: number
  logger?: CreateLogger
}

export interface RescanOptions {
  /** Only this share. Default: every share, one after the other. */
  share?: string
  /** Read every directory and stat every file, trusting no unchanged directory mtime. Default `false`. */
  full?: boolean
  signal?: AbortSignal
  onProgress?: (event: ScanProgressEvent) => void
}

export interface ScanSummary {
  shares: ShareScanSummary[]
  /** Totals over every share after the scan. */
  files: number
  bytes: number
  durationMs: number
}

export interface IndexTotals {
  files: number
  bytes: number
}

export interface IndexStoreEvents {
  /**
   * A rescan changed the index, or a share was added or removed (new totals attached); peers'
   * cached listings are stale.
   */
  change: CustomEvent<IndexTotals>
}

/** The shared directories. */
export interface IndexShares {
  add(dir: string, options?: { signal?: AbortSignal }): Promise<Share>
  remove(name: string, options?: { signal?: AbortSignal }): Promise<boolean>
  list(): Share[]
  get(name: string): Share | undefined
}

/** The public face of the wishlist (see {@link Wishlist}). */
export type IndexWishlist = Pick<
  Wishlist,
  | 'add'
  | 'get'
  | 'list'
  | 'files'
  | 'next'
  | 'start'
  | 'progress'
  | 'flush'
  | 'complete'
  | 'fail'
  | 'pause'
  | 'resume'
  | 'reorder'
  | 'cancel'
  | 'claim'
  | 'claimMany'
  | 'completeMany'
  | 'release'
  | 'updateFile'
  | 'appendFiles'
  | 'addEventListener'
  | 'removeEventListener'
>

export type IndexTopics = Pick<TopicList, 'list' | 'get' | 'join' | 'leave' | 'remove'>

type State = 'stopped' | 'starting' | 'started' | 'stopping'

interface Parts {
  dbs: StoreDatabases
  tree: IndexTree
  shares: ShareRegistry
  queries: Queries
  resolver: Resolver
  wishlist: Wishlist
  topics: TopicList
}

/**
 * One peer's database: the index of what it shares (names, sizes, mtimes; no hashing) and
 * what it wants (the wishlist), plus the topics it joined. The constructor does no I/O;
 * `start()` opens the database.
 */
export class IndexStore extends TypedEventEmitter<IndexStoreEvents> {
  readonly #options: IndexStoreOptions
  readonly #log: Logger
  #state: State = 'stopped'
  #starting: Promise<void> | undefined
  #stopping: Promise<void> | undefined
  #parts: Parts | undefined
  #shutdown = new AbortController()
  readonly #inflight = new Set<Promise<unknown>>()
  readonly #scans: ScanScheduler
  #scanChain: Promise<unknown> = Promise.resolve()

  constructor(options: IndexStoreOptions) {
    super()
    if (typeof options?.path !== 'string' || options.path === '') {
      throw new IndexStoreError('INVALID_OPTIONS', 'path must name the database directory')
    }
    if (options.ignore !== undefined) {
      if (
        !Array.isArray(options.ignore) ||
        !options.ignore.every((g) => typeof g === 'string' && g !== '')
      ) {
        throw new IndexStoreError('INVALID_OPTIONS', 'ignore must be an array of non-empty globs')
      }
      try {
        createIgnoreMatcher({ globs: options.ignore })
      } catch (err) {
        throw new IndexStoreError('INVALID_OPTIONS', `bad ignore glob: ${String(err)}`, {
          cause: err,
        })
      }
    }
    const threads = options.scanThreads ?? Math.min(2, availableParallelism())
    if (!Number.isInteger(threads) || threads < 0 || threads > 64) {
      throw new IndexStoreError('INVALID_OPTIONS', 'scanThreads must be an integer from 0 to 64')
    }
    const flush = options.progressFlushMs
    if (flush !== undefined && (!Number.isFinite(flush) || flush < 0)) {
      throw new IndexStoreError('INVALID_OPTIONS', 'progressFlushMs must be a non-negative number')
    }
    this.#options = { ...options, path: resolvePath(options.path) }
    this.#log = (options.logger ?? defaultLogger)('store')
    this.#scans = new ScanScheduler({
      threads,
      ignore: options.ignore,
      defaultIgnores: options.defaultIgnores ?? true,
      log: this.#log,
    })
  }

  get state(): State {
    return this.#state
  }

  async start(options: AbortOptions = {}): Promise<void> {
    options.signal?.throwIfAborted()
    if (this.#state === 'started') return
    if (this.#state === 'stopping') await this.#stopping
    if (this.#starting !== undefined) return this.#starting
    this.#state = 'starting'
    this.#starting = (async () => {
      try {
        const dbs = openDatabases(this.#options.path)
        const search = new SearchIndex()
        const tree = new IndexTree(dbs, search, this.#log)
        await tree.repairSearch()
        search.load(dbs.names)
        await remapSearch(dbs, this.#options.path)
        const shares = new ShareRegistry(dbs, tree, {
          beforeRemove: (name) => this.#scans.stopScanOf(name),
        })
        const rows = () => shares.rows()
        const wishlist = new Wishlist(dbs, this.#log, {
          ...(this.#options.progressFlushMs === undefined
            ? {}
            : { progressFlushMs: this.#options.progressFlushMs }),
        })
        const recovered = await wishlist.recover()
        if (recovered > 0) this.#log('wishlist: %d interrupted downloads queued again', recovered)
        this.#shutdown = new AbortController()
        this.#parts = {
          dbs,
          tree,
          shares,
          queries: new Queries(tree, rows),
          resolver: new Resolver(tree, rows),
          wishlist,
          topics: new TopicList(dbs),
        }
        this.#state = 'started'
        this.#log(
          'opened %s (%d shares, %d directories indexed)',
          this.#options.path,
          shares.rows().length,
          search.size,
        )
      } catch (err) {
        this.#state = 'stopped'
        throw err
      } finally {
        this.#starting = undefined
      }
    })()
    return this.#starting
  }

  async stop(): Promise<void> {
    if (this.#state === 'starting') await this.#starting?.catch(() => {})
    if (this.#state === 'stopping') return this.#stopping
    if (this.#state !== 'started') return
    this.#state = 'stopping'
    this.#stopping = (async () => {
      this.#shutdown.abort(new DOMException('the store is stopping', 'AbortError'))
      await Promise.allSettled([...this.#inflight])
      const parts = this.#parts as Parts
      await this.#scans.close()
      await parts.resolver.close()
      await parts.wishlist.close()
      await parts.dbs.env.close()
      await parts.dbs.searchEnv.close()
      this.#parts = undefined
      this.#state = 'stopped'
      this.#stopping = undefined
    })()
    return this.#stopping
  }

  /** Same as `stop()`. */
  close(): Promise<void> {
    return this.stop()
  }

  async [Symbol.asyncDispose](): Promise<void> {
    await this.stop()
  }

  #started(): Parts {
    if (this.#state !== 'started' || this.#parts === undefined) {
      throw new IndexStoreError('NOT_STARTED', 'the store is not started: call start() first')
    }
    return this.#parts
  }

  #track<T>(p: Promise<T>): Promise<T> {
    this.#inflight.add(p)
    const forget = () => this.#inflight.delete(p)
    p.then(forget, forget)
    return p
  }

  get shares(): IndexShares {
    const registry = this.#started().shares
    return {
      // Adding or removing a share changes the root listing peers see: say so like a rescan does.
      add: async (dir, options) => {
        const share = await registry.add(dir, options)
        this.safeDispatchEvent('change', { detail: this.totals() })
        return share
      },
      remove: async (name, options) => {
        const removed = await this.#track(registry.remove(name, options))
        if (removed) this.safeDispatchEvent('change', { detail: this.totals() })
        return removed
      },
      list: () => registry.list(),
      get: (name) => registry.get(name),
    }
  }

  get wishlist(): IndexWishlist {
    return this.#started().wishlist
  }

  get topics(): IndexTopics {
    return this.#started().topics
  }

  /** Totals over every share. */
  totals(): IndexTotals {
    let files = 0
    let bytes = 0
    for (const s of this.#started().shares.list()) {
      files += s.files
      bytes += s.bytes
    }
    return { files, bytes }
  }

  /**
   * Brings the index in line with the disk. Incremental: a directory whose mtime did not move
   * since it was listed is not read again (only its subdirectories are stat'ed), unless `full`.
   * Scans run one at a time; a call made during a scan runs after it.
   */
  rescan(options: RescanOptions = {}): Promise<ScanSummary> {
    const parts = this.#started()
    if (options.share !== undefined && !parts.shares.rows().some((r) => r.name === options.share)) {
      return Promise.reject(
        new IndexStoreError('UNKNOWN_SHARE', `no share named ${JSON.stringify(options.share)}`),
      )
    }
    const run = async (): Promise<ScanSummary> => {
      const started = performance.now()
      const signals = [this.#shutdown.signal]
      if (options.signal !== undefined) signals.push(options.signal)
      const signal = AbortSignal.any(signals)
      const names =
        options.share !== undefined ? [options.share] : parts.shares.rows().map((r) => r.name)
      const summaries = await this.#scans.scan(parts.tree, () => parts.shares.rows(), names, {
        full: options.full === true,
        signal,
        onProgress: options.onProgress,
      })
      const totals = this.totals()
      if (summaries.some((s) => s.changed > 0 || s.removed > 0)) {
        this.safeDispatchEvent('change', { detail: totals })
      }
      return { shares: summaries, ...totals, durationMs: performance.now() - started }
    }
    const result = this.#scanChain.then(run, run)
    this.#scanChain = result.catch(() => {})
    return this.#track(result)
  }

  /** Lists a directory (or `''`: the shares). Iterate it; its `cursor` continues later. */
  ls(path: string, options: LsOptions = {}): EntryStream {
    return this.#started().queries.ls(path, options)
  }

  /** Case- and accent-insensitive substring search over names; every word must appear. */
  search(term: string, options: SearchOptions = {}): EntryStream {
    return this.#started().queries.search(term, options)
  }

  /** The real path of an indexed share path, proven to be inside its share now. */
  resolve(sharePath: string, options: { signal?: AbortSignal } = {}): Promise<ResolvedPath> {
    return this.#track(this.#started().resolver.resolve(sharePath, options))
  }

  /** Opens an indexed file for reading, proving the open descriptor is inside its share. */
  open(sharePath: string, options: { signal?: AbortSignal } = {}): Promise<OpenedFile> {
    return this.#track(this.#started().resolver.open(sharePath, options))
  }

  /**
   * Reads at most `maxBytes` (up to 1 MiB) of an indexed file from `offset`, with `open`'s proof;
   * for files read whole in one go (many at once are read on a thread of their own).
   */
  readSmall(
    sharePath: string,
    range: { offset: number; maxBytes: number },
    options: { signal?: AbortSignal } = {},
  ): Promise<SmallFile> {
    return this.#track(this.#started().resolver.readSmall(sharePath, range, options))
  }
}

/** Creates and starts an {@link IndexStore}. */
export async function openIndexStore(options: IndexStoreOptions): Promise<IndexStore> {
  const store = new IndexStore(options)
  await store.start()
  return store
}
