import { HdpError, isHdpError } from '@harddrive-party/wire-protocol'

export type IndexStoreErrorCode =
  /** An option is missing or out of range (store path, ignore globs, limits, thread count). */
  | 'INVALID_OPTIONS'
  /** A share path or search term is not acceptable (fails wire-protocol validation, too long). */
  | 'BAD_PATH'
  /** A search term is empty, too long or holds control characters; or a limit is not a positive integer. */
  | 'BAD_QUERY'
  /** A cursor was not made by this store for this kind of query, or is damaged. */
  | 'BAD_CURSOR'
  /** The path is not in the index, or no longer exists on disk. */
  | 'NOT_FOUND'
  /** The path resolves (through a symlink or a moved mount) to somewhere outside its share. */
  | 'OUTSIDE_SHARE'
  /** The path exists but is not a regular file (a directory, FIFO, device...). */
  | 'NOT_A_FILE'
  /** The file system refused access (permissions). */
  | 'UNREADABLE'
  /** The directory to share does not exist, is not a directory, or cannot be read. */
  | 'BAD_SHARE_DIR'
  /** The directory is already shared, or lies inside (or around) a shared directory. */
  | 'SHARE_OVERLAP'
  /** No share has this name. */
  | 'UNKNOWN_SHARE'
  /** No wishlist request (or file of a request) has this id. */
  | 'UNKNOWN_REQUEST'
  /** A wishlist request with this id already exists. */
  | 'DUPLICATE_REQUEST'
  /** A wishlist request or topic name is malformed (peer key, files, destination, name). */
  | 'BAD_REQUEST'
  /** The state change is not allowed from the current state (e.g. completing a cancelled file). */
  | 'INVALID_STATE'
  /** A call on the store before `start()` or after `stop()`. */
  | 'NOT_STARTED'
  /** A wishlist handle taken from the store is used after the store stopped. */
  | 'CLOSED'
  /** The database files are from an incompatible version of this package, or damaged. */
  | 'BAD_DATABASE'
  /** A scan worker thread failed. */
  | 'SCAN_FAILED'

/** The one error class of `@harddrive-party/index-store`. Branch on `code`. */
export class IndexStoreError extends HdpError<IndexStoreErrorCode> {
  override name = 'IndexStoreError'
}

export function isIndexStoreError(err: unknown): err is IndexStoreError {
  return isHdpError(err, 'IndexStoreError')
}
