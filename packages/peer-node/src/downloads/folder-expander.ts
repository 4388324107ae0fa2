import type { IndexWishlist, WishlistRequest } from '@harddrive-party/index-store'
import { isSharePath } from '@harddrive-party/wire-protocol'
import { describeError, isPeerNodeError } from '../errors'
import type { EntryPage, PeerClient } from '../remote/peer-client'

export interface ExpandContext {
  wishlist: IndexWishlist
  pageSize: number
  signal: AbortSignal
  /** An entry was dropped (not a valid path below the request). */
  onRefused: (path: string, why: string) => void
  /** The request failed as a whole: the path is gone (`NOT_FOUND`) or lists nothing (`EMPTY`). */
  onNothing: (code: ExpandFailureCode, why: string) => void
}

/** Why a listing ended a request `failed` (a `download:error` code and the request's `code`). */
export type ExpandFailureCode = 'NOT_FOUND' | 'EMPTY'

/** What the peer answers when it has no such path: the request fails instead of retrying. */
const GONE = new Set(['NOT_FOUND', 'BAD_PATH', 'FORBIDDEN'])

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
  try {
    await appendPages(context, client, request)
  } catch (err) {
    // Only a first page can fail the request: later pages keep the files already appended.
    const files = context.wishlist.get(request.id)?.files ?? 0
    if (!isPeerNodeError(err) || !GONE.has(err.code) || files > 0) throw err
    const reason = `${request.path}: ${describeError(err)}`
    await fail(context, request, 'NOT_FOUND', reason)
  }
}

async function fail(
  context: ExpandContext,
  request: WishlistRequest,
  code: ExpandFailureCode,
  reason: string,
): Promise<void> {
  await context.wishlist.appendFiles(request.id, {
    files: [],
    done: true,
    failure: { code, reason },
  })
  context.onNothing(code, reason)
}

/**
 * The first page is short: the first files are queued (and their bytes flow) after listing a
 * hundred entries, not a thousand, whatever the folder's size.
 */
const FIRST_PAGE_ENTRIES = 100

async function appendPages(
  context: ExpandContext,
  client: PeerClient,
  request: WishlistRequest,
): Promise<void> {
  const { wishlist, signal } = context
  let dir: boolean | undefined
  let any = false
  let cursor = request.cursor
  let pageSize =
    cursor === undefined ? Math.min(FIRST_PAGE_ENTRIES, context.pageSize) : context.pageSize
  for (;;) {
    const options = {
      recursive: true,
      pageSize,
      signal,
      ...(cursor !== undefined ? { cursor } : {}),
    }
    const page = await firstPage(client.lsPages(request.path, options))
    pageSize = context.pageSize
    cursor = page.cursor
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
    if (done && !any && request.cursor === undefined && request.files === 0) {
      return fail(context, request, 'EMPTY', `the peer lists nothing under ${request.path}`)
    }
    await wishlist.appendFiles(request.id, {
      files,
      ...(page.cursor !== undefined ? { cursor: page.cursor } : {}),
      done,
      ...(dir !== undefined ? { dir } : {}),
    })
    if (done) return
  }
}

/** One page of a listing (each page is its own request: nothing is left open). */
async function firstPage(pages: AsyncGenerator<EntryPage>): Promise<EntryPage> {
  const { value, done } = await pages.next()
  await pages.return(undefined)
  if (done === true || value === undefined) return { entries: [] }
  return value
}
