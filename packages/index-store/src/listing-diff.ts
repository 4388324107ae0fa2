import type { Listing } from './listing'
import type { SubdirInfo } from './read-directory'

/** A subdirectory of a fresh listing, with the directory id it goes by. */
export interface ListedSubdir {
  name: string
  nameBytes: Buffer
  id: number
  mtime: number
  /** No directory of that name was listed before: `id` was just allocated. */
  isNew: boolean
}

/**
 * Gives each subdirectory of a fresh listing its id, written into `listing`: the stored one
 * when the old listing had a directory of that name (so its subtree is kept), else a new one.
 */
export function carryChildIds(
  listing: Listing,
  old: Listing | undefined,
  subdirs: readonly SubdirInfo[],
  allocateId: () => number,
): ListedSubdir[] {
  const out: ListedSubdir[] = []
  for (const sub of subdirs) {
    const nameBytes = listing.nameBytes(sub.index)
    let id = 0
    if (old !== undefined) {
      const j = old.find(nameBytes)
      if (j >= 0 && old.isDir(j)) id = old.childId(j)
    }
    const isNew = id === 0
    if (isNew) id = allocateId()
    listing.setChildId(sub.index, id)
    out.push({ name: sub.name, nameBytes: Buffer.from(nameBytes), id, mtime: sub.mtime, isNew })
  }
  return out
}

/** Ids of the old listing's subdirectories that the fresh listing no longer has as directories. */
export function lostSubdirs(old: Listing, listing: Listing): number[] {
  const lost: number[] = []
  for (let i = 0; i < old.count; i++) {
    if (!old.isDir(i)) continue
    const j = listing.find(old.nameBytes(i))
    if (j < 0 || !listing.isDir(j)) lost.push(old.childId(i))
  }
  return lost
}
