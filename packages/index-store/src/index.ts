/**
 * @packageDocumentation
 * The LMDB database of a harddrive-party peer: the index of its shared directories (names,
 * sizes and mtimes, no hashing, so a huge collection is shared in seconds), `ls` and `search`
 * over it as streams of wire-protocol entries, safe resolution of share paths to files, the
 * download wishlist, and the list of joined topics.
 *
 * @example
 * ```ts
 * import { openIndexStore } from '@harddrive-party/index-store'
 * const store = await openIndexStore({ path: '/var/lib/hdp/db' })
 * await store.shares.add('/srv/music')
 * await store.rescan()
 * for await (const entry of store.search('abbey road', { limit: 20 })) console.log(entry.path)
 * const { realPath } = await store.resolve('music/Beatles/01.flac')
 * await store.close()
 * ```
 */
export type { EntryStreamOptions } from './entry-stream'
export { EntryStream } from './entry-stream'
export type { IndexStoreErrorCode } from './errors'
export { IndexStoreError, isIndexStoreError } from './errors'
export { foldName } from './fold'
export { DEFAULT_IGNORES } from './ignore'
export type {
  IndexShares,
  IndexStoreEvents,
  IndexStoreOptions,
  IndexTopics,
  IndexTotals,
  IndexWishlist,
  RescanOptions,
  ScanSummary,
} from './index-store'
export { IndexStore, openIndexStore } from './index-store'
export type { LsOptions, SearchOptions } from './queries'
export type { OpenedFile, ResolvedPath, SmallFile } from './resolve'
export type { ScanProgressEvent, ShareScanSummary } from './scan-report'
export type { Share } from './shares'
export type { TopicState } from './topics'
export type { WishlistAppend, WishlistEvents } from './wishlist-claims'
export type { WishlistRequestInput } from './wishlist-input'
export type {
  WishlistFile,
  WishlistFileState,
  WishlistOptions,
  WishlistRequest,
  WishlistState,
} from './wishlist-rows'
