import { join } from 'node:path'
import { type Database, open, type RootDatabase } from 'lmdb'
import { IndexStoreError } from './errors'

/** Bumped when a table's layout changes; an older or newer store refuses to open. */
const SCHEMA_VERSION = 1

/**
 * The LMDB environment of one peer and its tables. Index tables (dirs, listings, names) are
 * keyed by directory id; everything else by strings or arrays (lmdb's ordered-binary keys).
 */
export interface StoreDatabases {
  env: RootDatabase
  /**
   * A second environment (`<path>/search`) holding only the folded names. Loading them at
   * start reads this small file alone: in the main file they would sit between the listings,
   * and the kernel maps neighbouring pages on each fault, so loading would map (and count in
   * RSS) the whole index. It is a derived cache: see `searchClean` in {@link IndexTree}.
   */
  searchEnv: RootDatabase
  /** `schema`, `nextDirId` and other small counters. */
  meta: Database<unknown, string>
  /** Share name → {@link ShareRow}. */
  shares: Database<unknown, string>
  /** Directory id → packed {@link DirRecord}. */
  dirs: Database<Buffer, number>
  /** Directory id → packed {@link Listing} of its children. */
  listings: Database<Buffer, number>
  /** Directory id → folded names of its children, for search (in `searchEnv`). */
  names: Database<Buffer, number>
  /** Request id → wishlist request row. */
  requests: Database<unknown, string>
  /** `[request id, file index]` → wishlist file row. */
  items: Database<unknown, [string, number]>
  /** `[rank, request id]` → `true`: the queue order. */
  queue: Database<unknown, [number, string]>
  /** Topic name → topic row. */
  topics: Database<unknown, string>
}

/**
 * `noReadAhead` (MADV_RANDOM): a page fault reads that page, not the 128 KiB around it.
 * Queries touch scattered listings; with read-around each one would pull (and count in RSS)
 * dozens of unrelated pages. (It is a documented lmdb option missing from its typings.)
 */
function openEnv(path: string, maxDbs: number): RootDatabase {
  const options: Parameters<typeof open>[0] & { noReadAhead: boolean } = {
    path,
    maxDbs,
    compression: false,
    noReadAhead: true,
  }
  return open(options)
}

/**
 * Closes and reopens the search environment: after its names were copied into memory, its
 * mapped pages are no longer needed, and unmapping them takes them out of the process's RSS.
 */
export async function remapSearch(dbs: StoreDatabases, path: string): Promise<void> {
  await dbs.searchEnv.close()
  dbs.searchEnv = openEnv(join(path, 'search'), 2)
  dbs.names = dbs.searchEnv.openDB<Buffer, number>({
    name: 'names',
    keyEncoding: 'uint32',
    encoding: 'binary',
  })
}

export function openDatabases(path: string): StoreDatabases {
  let env: RootDatabase
  let searchEnv: RootDatabase
  try {
    env = openEnv(path, 16)
    searchEnv = openEnv(join(path, 'search'), 2)
  } catch (err) {
    throw new IndexStoreError('BAD_DATABASE', `cannot open the database at ${path}`, { cause: err })
  }
  const binary = (name: string, in_: RootDatabase = env) =>
    in_.openDB<Buffer, number>({ name, keyEncoding: 'uint32', encoding: 'binary' })
  const dbs: StoreDatabases = {
    env,
    searchEnv,
    meta: env.openDB<unknown, string>({ name: 'meta' }),
    shares: env.openDB<unknown, string>({ name: 'shares' }),
    dirs: binary('dirs'),
    listings: binary('listings'),
    names: binary('names', searchEnv),
    requests: env.openDB<unknown, string>({ name: 'requests' }),
    items: env.openDB<unknown, [string, number]>({ name: 'items' }),
    queue: env.openDB<unknown, [number, string]>({ name: 'queue' }),
    topics: env.openDB<unknown, string>({ name: 'topics' }),
  }
  const schema = dbs.meta.get('schema')
  if (schema === undefined) {
    dbs.meta.putSync('schema', SCHEMA_VERSION)
  } else if (schema !== SCHEMA_VERSION) {
    void env.close()
    void searchEnv.close()
    throw new IndexStoreError(
      'BAD_DATABASE',
      `the database at ${path} has schema ${String(schema)}, this version reads ${SCHEMA_VERSION}`,
    )
  }
  return dbs
}
