import picomatch from 'picomatch'

/**
 * What a NAS user never wants shared: Synology thumbnails and recycle bins, snapshots,
 * macOS/Windows folder metadata and desktop trash folders. Matched on the name, ignoring case.
 */
export const DEFAULT_IGNORES: readonly string[] = [
  '@eaDir',
  '#recycle',
  '#snapshot',
  '.DS_Store',
  'Thumbs.db',
  'desktop.ini',
  '.Trash-*',
]

const DEFAULT_NAMES = new Set([
  '@eadir',
  '#recycle',
  '#snapshot',
  '.ds_store',
  'thumbs.db',
  'desktop.ini',
])

/** `true` when the entry must be skipped. `relPath` is relative to the share root. */
export type IgnoreMatcher = (relPath: string, name: string) => boolean

export interface IgnoreOptions {
  /** picomatch globs; a glob without `/` matches the name at any depth. */
  globs?: readonly string[]
  /** Apply {@link DEFAULT_IGNORES}. Default `true`. */
  defaults?: boolean
}

function isDefaultIgnored(name: string): boolean {
  const c = name.charCodeAt(0)
  // Only names starting with one of these characters can match: skip the lower-casing.
  if (
    c !== 0x40 &&
    c !== 0x23 &&
    c !== 0x2e &&
    c !== 0x54 &&
    c !== 0x74 &&
    c !== 0x44 &&
    c !== 0x64
  ) {
    return false
  }
  const lower = name.toLowerCase()
  return DEFAULT_NAMES.has(lower) || lower.startsWith('.trash-')
}

/** Throws a `TypeError` for a glob picomatch cannot compile. */
export function createIgnoreMatcher(options: IgnoreOptions = {}): IgnoreMatcher {
  const defaults = options.defaults ?? true
  const globs = options.globs ?? []
  const user = globs.length > 0 ? picomatch(globs as string[], { dot: true, basename: true }) : null
  if (user === null) return defaults ? (_rel, name) => isDefaultIgnored(name) : () => false
  return (rel, name) => (defaults && isDefaultIgnored(name)) || user(rel)
}
