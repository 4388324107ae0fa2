import type { IndexWishlist, WishlistRequest } from '@harddrive-party/index-store'
import { isSharePath } from '@harddrive-party/wire-protocol'
import type { PeerClient } from '../remote/peer-client'

export interface ExpandContext {
  wishlist: IndexWishlist
  pageSize: number
  signal: AbortSignal
  /** An entry was dropped (not a valid path below the request). */
  onRefused: (path: string, why: string) => void
}

/**
 * Lists a request's remote path page by page (recursive `ls`) and appends each page's files to
 * the wishlist with the listing's cursor, in one transaction per page: downloads start with the
 * first page (a folder of 500,000 files starts at once), and after a restart the listing
 * continues after the last page written. A path that is a file lists as itself.
 */
export async function expandRequest(
  context: ExpandContext,
  client: PeerClient,
  request: WishlistRequest,
): Promise<void> {
  const { wishlist, signal } = context
  const options = {
    recursive: true,
    pageSize: context.pageSize,
    signal,
    ...(request.cursor !== undefined ? { cursor: request.cursor } : {}),
  }
  let dir: boolean | undefined
  let any = false
  for await (const page of client.lsPages(request.path, options)) {
    const files: { path: string; size: number; mtime?: number }[] = []
    for (const e of page.entries) {
      any = true
      const self = e.path === request.path
      if (!self) dir = true
      else dir = e.dir
      if (e.dir) continue
      if (!isSharePath(e.path) || !(self || e.path.startsWith(`${request.path}/`))) {
        context.onRefused(e.path, `not below ${request.path}`)
        continue
      }
      const { path, size, mtime } = e
      files.push(mtime === undefined ? { path, size } : { path, size, mtime })
    }
    const done = page.cursor === undefined
    await wishlist.appendFiles(request.id, {
      files,
      ...(page.cursor !== undefined ? { cursor: page.cursor } : {}),
      done,
      ...(dir !== undefined ? { dir } : {}),
    })
    if (done && !any && request.cursor === undefined) {
      context.onRefused(request.path, 'the peer lists nothing there')
    }
  }
}
