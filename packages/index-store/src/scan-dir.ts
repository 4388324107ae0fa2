import type { DirRecord } from './dir-record'
import type { Listing } from './listing'
import type { ListJob } from './read-directory'

/** A directory on its way through a scan: where it is, and what the index knew of it. */
export interface JobMeta {
  id: number
  parentId: number
  name: string
  nameBytes: Buffer
  abs: string
  rel: string
  prefixBytes: number
  /** mtime seen by the parent's stat, just before this directory is read. */
  mtime: number
  /** The row as it was before this scan (a placeholder for a new directory). */
  old: DirRecord | undefined
  isNew: boolean
  /** Set while a `stat` job checks an unchanged directory's subdirectories. */
  oldListing?: Listing
}

/** A share's root directory (its name is the share's name). */
export function rootMeta(
  id: number,
  name: string,
  realRoot: string,
  mtime: number,
  old: DirRecord | undefined,
): JobMeta {
  const nameBytes = Buffer.from(name, 'utf8')
  return {
    id,
    parentId: 0,
    name,
    nameBytes,
    abs: realRoot,
    rel: '',
    prefixBytes: nameBytes.length,
    mtime,
    old,
    isNew: false,
  }
}

/** A subdirectory of `parent`; `old` is its stored row (undefined when it is new). */
export function childMeta(
  parent: JobMeta,
  child: { name: string; nameBytes: Buffer; id: number; mtime: number; isNew: boolean },
  old: DirRecord | undefined,
): JobMeta {
  const { name, nameBytes } = child
  return {
    id: child.id,
    parentId: parent.id,
    name,
    nameBytes,
    abs: `${parent.abs}/${name}`,
    rel: parent.rel === '' ? name : `${parent.rel}/${name}`,
    prefixBytes: parent.prefixBytes + 1 + nameBytes.length,
    mtime: child.mtime,
    old,
    isNew: child.isNew,
  }
}

/** The job that reads a directory in full. */
export function listJob(meta: JobMeta, realRoot: string): ListJob {
  return {
    kind: 'list',
    id: meta.id,
    realRoot,
    abs: meta.abs,
    rel: meta.rel,
    prefixBytes: meta.prefixBytes,
  }
}
