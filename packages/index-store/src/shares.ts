import { constants } from 'node:fs'
import { access, realpath, stat } from 'node:fs/promises'
import { basename, resolve as resolvePath, sep } from 'node:path'
import { isSharePath } from '@harddrive-party/wire-protocol'
import type { StoreDatabases } from './database'
import { IndexStoreError } from './errors'
import type { IndexTree, ShareRow } from './index-tree'
import { wireMtime } from './index-tree'
import { replaceUnsafeNameChars } from './text'

/** A shared directory as callers see it. */
export interface Share {
  /** Unique name: the first segment of every share path in it. */
  name: string
  /** The directory, as given to `add` (made absolute). */
  root: string
  /** Totals from the last scan. */
  files: number
  bytes: number
  /** When the share was added (ms). */
  addedAt: number
  /** When its root was last read by a scan (ms); absent before the first scan. */
  scannedAt?: number
}

export interface ShareHooks {
  /** Called before a share's entries are deleted: stop scanning it. */
  beforeRemove(name: string): Promise<void>
}

function isInside(inner: string, outer: string): boolean {
  return inner === outer || inner.startsWith(outer.endsWith(sep) ? outer : `${outer}${sep}`)
}

/** A directory name made into a share name: a single, wire-valid path segment. */
export function shareNameFrom(dir: string): string {
  // Characters the wire refuses in a path become `_`; an unusable name falls back to `share`.
  const base = replaceUnsafeNameChars(basename(dir))
  if (base === '' || base === '.' || base === '..' || !isSharePath(base)) return 'share'
  return base
}

/** The shares table: add, remove, list. Changes are serialised so names stay unique. */
export class ShareRegistry {
  readonly #dbs: StoreDatabases
  readonly #tree: IndexTree
  readonly #hooks: ShareHooks
  #rows: ShareRow[] = []
  #chain: Promise<unknown> = Promise.resolve()

  constructor(dbs: StoreDatabases, tree: IndexTree, hooks: ShareHooks) {
    this.#dbs = dbs
    this.#tree = tree
    this.#hooks = hooks
    this.#rows = [...dbs.shares.getRange({})].map(({ value }) => value as ShareRow)
  }

  /** Stored rows (shared with the scanner and queries; do not mutate). */
  rows(): ShareRow[] {
    return this.#rows
  }

  #toShare(row: ShareRow): Share {
    const rec = this.#tree.dir(row.rootId)
    const share: Share = {
      name: row.name,
      root: row.root,
      files: rec?.files ?? 0,
      bytes: rec?.bytes ?? 0,
      addedAt: row.addedAt,
    }
    if (rec !== undefined && rec.listedAt > 0) {
      const t = wireMtime(rec.listedAt)
      if (t !== undefined) share.scannedAt = t
    }
    return share
  }

  list(): Share[] {
    return this.#rows.map((r) => this.#toShare(r))
  }

  get(name: string): Share | undefined {
    const row = this.#rows.find((r) => r.name === name)
    return row === undefined ? undefined : this.#toShare(row)
  }

  #serial<T>(fn: () => Promise<T>): Promise<T> {
    const run = this.#chain.then(fn, fn)
    this.#chain = run.catch(() => {})
    return run
  }

  /**
   * Shares a directory under a unique name (its basename; `-2`, `-3`... on a clash). It is
   * empty until the next scan.
   */
  add(dir: string, options: { signal?: AbortSignal } = {}): Promise<Share> {
    return this.#serial(async () => {
      options.signal?.throwIfAborted()
      if (typeof dir !== 'string' || dir === '' || dir.includes('\u0000')) {
        throw new IndexStoreError(
          'BAD_SHARE_DIR',
          'the directory to share must be a non-empty path',
        )
      }
      const root = resolvePath(dir)
      let real: string
      try {
        real = await realpath(root)
        const st = await stat(real)
        if (!st.isDirectory())
          throw Object.assign(new Error('not a directory'), { code: 'ENOTDIR' })
        await access(real, constants.R_OK | constants.X_OK)
      } catch (err) {
        throw new IndexStoreError(
          'BAD_SHARE_DIR',
          `cannot share ${root}: ${(err as { code?: string }).code ?? String(err)}`,
          {
            cause: err,
          },
        )
      }
      for (const row of this.#rows) {
        const other = await realpath(row.root).catch(() => resolvePath(row.root))
        if (isInside(real, other) || isInside(other, real)) {
          throw new IndexStoreError(
            'SHARE_OVERLAP',
            `${root} overlaps share ${row.name} (${row.root})`,
          )
        }
      }
      options.signal?.throwIfAborted()
      const base = shareNameFrom(root)
      let name = base
      for (let n = 2; this.#rows.some((r) => r.name === name); n++) name = `${base}-${n}`
      const rootId = this.#tree.allocateId()
      const row: ShareRow = { name, root, rootId, addedAt: Date.now() }
      this.#tree.putDir(rootId, { parentId: 0, name, bytes: 0, files: 0, mtime: 0, listedAt: 0 })
      await this.#dbs.shares.put(name, row)
      this.#rows = [...this.#rows, row]
      return this.#toShare(row)
    })
  }

  /** Stops sharing; removes exactly this share's entries. False when no share has the name. */
  remove(name: string, options: { signal?: AbortSignal } = {}): Promise<boolean> {
    return this.#serial(async () => {
      options.signal?.throwIfAborted()
      const row = this.#rows.find((r) => r.name === name)
      if (row === undefined) return false
      await this.#hooks.beforeRemove(name)
      // Let the aborted scan's last writes land first, so the delete sees every directory.
      await this.#tree.committed()
      await this.#tree.beginSearchWrites()
      try {
        this.#rows = this.#rows.filter((r) => r !== row)
        this.#tree.deleteSubtree(row.rootId)
        await this.#dbs.shares.remove(name)
      } finally {
        await this.#tree.endSearchWrites()
      }
      return true
    })
  }
}
