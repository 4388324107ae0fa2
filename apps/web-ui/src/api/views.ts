import type { ApiEntryPage, ApiPeer } from '@harddrive-party/wire-protocol'

/** An entry of a listing or search, with the peer it came from. */
export type EntryView = ApiEntryPage['entries'][number] & { peer: string; peerName: string }
export type PeerView = ApiPeer

export function pageEntries(page: ApiEntryPage): EntryView[] {
  return page.entries.map((e) => ({ ...e, peer: page.peer, peerName: page.name }))
}

/** Search results per peer per page: the first answer comes quickly; more on request. */
export const SEARCH_PAGE = 200
