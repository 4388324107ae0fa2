import { hasControlChar } from './check'
import { WireError } from './errors'
import { MAX_PATH_BYTES, MAX_SEGMENT_BYTES } from './limits'
import { utf8Length } from './utf8'

/**
 * Checks that `path` is a safe share-relative path and returns it unchanged.
 *
 * A share path is `''` (the root of all shares) or `segment('/' segment)*`, where the first
 * segment names a share. Refused, with `BAD_PATH`: `.` and `..` segments, empty segments
 * (a leading, trailing or doubled `/`), NUL and other C0 control characters, backslashes
 * (a Windows separator on some hosts), a `C:`-style drive prefix, and paths or segments
 * longer than the limits. Paths are validated here once, before any other package sees them.
 */
export function validateSharePath(path: unknown): string {
  if (typeof path !== 'string')
    throw new WireError('BAD_PATH', `path must be a string, got ${typeof path}`)
  if (path === '') return path
  if (path.length > MAX_PATH_BYTES || utf8Length(path) > MAX_PATH_BYTES) {
    throw new WireError('BAD_PATH', `path is longer than ${MAX_PATH_BYTES} bytes`)
  }
  if (hasControlChar(path)) {
    throw new WireError('BAD_PATH', 'path contains a NUL or control character')
  }
  if (path.includes('\\')) throw new WireError('BAD_PATH', 'path contains a backslash')
  if (/^[a-zA-Z]:/.test(path)) throw new WireError('BAD_PATH', 'path starts with a drive letter')
  if (path.startsWith('/')) throw new WireError('BAD_PATH', 'path is absolute')
  for (const segment of path.split('/')) {
    if (segment === '') throw new WireError('BAD_PATH', 'path has an empty segment')
    if (segment === '.' || segment === '..') {
      throw new WireError('BAD_PATH', `path has a "${segment}" segment`)
    }
    if (segment.length > MAX_SEGMENT_BYTES / 3 && utf8Length(segment) > MAX_SEGMENT_BYTES) {
      throw new WireError('BAD_PATH', `a path segment is longer than ${MAX_SEGMENT_BYTES} bytes`)
    }
  }
  return path
}

/** True when {@link validateSharePath} would accept `path`. */
export function isSharePath(path: unknown): path is string {
  try {
    validateSharePath(path)
    return true
  } catch {
    return false
  }
}

/** Splits a validated share path into its segments (`''` gives `[]`). */
export function splitSharePath(path: string): string[] {
  return validateSharePath(path) === '' ? [] : path.split('/')
}

/** Joins segments into a share path and validates the result. */
export function joinSharePath(...segments: string[]): string {
  return validateSharePath(segments.filter((s) => s !== '').join('/'))
}
