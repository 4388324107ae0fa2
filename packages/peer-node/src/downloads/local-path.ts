import type { Stats } from 'node:fs'
import { lstat, mkdir } from 'node:fs/promises'
import { join } from 'node:path'
import { isSharePath } from '@harddrive-party/wire-protocol'
import { PeerNodeError } from '../errors'

/**
 * Remote path → local path. Every name from a peer is hostile: it is checked again here, right
 * before a file is created, whatever checked it before. Names that cannot be made safe are
 * refused (`UNSAFE_NAME`); names that can are changed and the change is reported.
 */

/** Appended to a file's final name while its bytes arrive. */
export const PART_SUFFIX = '.part'

const MAX_NAME_BYTES = 255
/** C0, DEL, C1, and the bidi/zero-width marks that make a name read differently than it is. */
// biome-ignore lint/suspicious/noControlCharactersInRegex: control characters are what this finds
const CONTROL = /[\u0000-\u001f\u007f-\u009f\u061c\u200b-\u200f\u202a-\u202e\u2066-\u2069\ufeff]/g
/** Not allowed in names on Windows (and `:` makes NTFS streams). */
const WINDOWS_FORBIDDEN = /[<>:"\\|?*]/g
const WINDOWS_RESERVED = /^(con|prn|aux|nul|com[0-9¹²³]|lpt[0-9¹²³])(\..*)?$/i

function unsafe(message: string): PeerNodeError {
  return new PeerNodeError('UNSAFE_NAME', message)
}

export interface LocalName {
  /** Safe path segments below the request's root. */
  segments: string[]
  /** What was changed to make it safe (empty when the name was already safe). */
  changes: string[]
}

/** One remote name made safe for every platform, or refused. */
export function safeName(name: string): { name: string; change?: string } {
  let out = name.normalize('NFC').replace(CONTROL, '_').replace(WINDOWS_FORBIDDEN, '_')
  // Windows drops trailing dots and spaces: "a." and "a" would be one file.
  out = out.replace(/[. ]+$/, (tail) => '_'.repeat(tail.length))
  if (/^[. ]*$/.test(name.replace(CONTROL, ''))) {
    throw unsafe(`the name ${JSON.stringify(name)} is only dots, spaces or controls`)
  }
  if (WINDOWS_RESERVED.test(out)) out = `_${out}`
  // A remote "x.part" must not be mistaken for (or overwrite) the part file of "x".
  if (out.toLowerCase().endsWith(PART_SUFFIX)) out = `${out}_`
  if (Buffer.byteLength(out) > MAX_NAME_BYTES) {
    throw unsafe(`the name ${JSON.stringify(name.slice(0, 40))}… is too long`)
  }
  return out === name ? { name } : { name: out, change: `${JSON.stringify(name)} → ${out}` }
}

/**
 * The local segments of `remotePath`, which must be `base` or below it (`base` itself maps to
 * its last segment, so a file request lands as one file). Refuses anything else.
 */
export function localName(remotePath: string, base: string): LocalName {
  if (!isSharePath(remotePath) || remotePath === '') {
    throw unsafe(`${JSON.stringify(remotePath)} is not a valid share path`)
  }
  if (remotePath !== base && !remotePath.startsWith(`${base}/`)) {
    throw unsafe(`${JSON.stringify(remotePath)} is outside ${base}`)
  }
  const changes: string[] = []
  const segments = remotePath.split('/').map((part) => {
    const safe = safeName(part)
    if (safe.change !== undefined) changes.push(safe.change)
    return safe.name
  })
  return { segments, changes }
}

/**
 * Creates the folders of `segments` below `root` one at a time, refusing a symlink or a file
 * where a folder should be (a planted symlink would lead a write outside the download dir), and
 * a final name that is a symlink or a folder. Returns the final path. (Its part file refuses
 * the same when it is opened.)
 */
export async function prepareLocalPath(root: string, segments: readonly string[]): Promise<string> {
  return (await prepareLocalTarget(root, segments)).path
}

/**
 * {@link prepareLocalPath}, also saying whether a regular file already holds the final name
 * (and its size): one look at each name serves both.
 */
export async function prepareLocalTarget(
  root: string,
  segments: readonly string[],
  /** Folders found to be real folders already (this engine's; skipped, then added to). */
  known?: Set<string>,
  /** False: the final name is not looked at here (whoever writes there checks it). */
  lookAtFinal = true,
): Promise<{ path: string; existingSize?: number }> {
  let dir = root
  for (const segment of segments.slice(0, -1)) {
    dir = join(dir, segment)
    if (known?.has(dir)) continue
    await ensureDir(dir)
    if (known !== undefined && known.size > 10_000) known.clear() // bounded
    known?.add(dir)
  }
  const target = join(dir, segments.at(-1) ?? '')
  if (!lookAtFinal) return { path: target }
  // The part name is checked where it is opened (`PartFile.open`: no symlink, a regular file).
  const existing = await checkTarget(target)
  return existing === undefined ? { path: target } : { path: target, existingSize: existing.size }
}

async function ensureDir(dir: string): Promise<void> {
  const st = await lstat(dir).catch(missing)
  if (st === undefined) {
    try {
      await mkdir(dir)
      return
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err
    }
    return ensureDir(dir)
  }
  if (st.isSymbolicLink()) throw unsafe(`${dir} is a symlink, not a folder`)
  if (!st.isDirectory()) throw unsafe(`${dir} is a file where a folder should be`)
}

/** The regular file at `path` (undefined when there is none); anything else is refused. */
async function checkTarget(path: string): Promise<Stats | undefined> {
  const st = await lstat(path).catch(missing)
  if (st === undefined || st.isFile()) return st
  throw unsafe(
    `${path} is ${st.isSymbolicLink() ? 'a symlink' : 'not a regular file'}; not writing there`,
  )
}

function missing(err: NodeJS.ErrnoException): undefined {
  if (err.code === 'ENOENT') return undefined
  throw err
}
