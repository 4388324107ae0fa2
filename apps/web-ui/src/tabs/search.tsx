import type { ApiEntryPage, ApiPeerError } from '@harddrive-party/wire-protocol'
import { useEffect, useReducer, useRef } from 'preact/hooks'
import type { Store } from '../api/store'
import { type EntryView, pageEntries, SEARCH_PAGE } from '../api/views'
import { baseName, bytes } from '../ui/format'
import { VirtualList } from '../ui/virtual-list'

/** One search: its results so far and, per peer with more to give, where to continue. */
interface SearchRun {
  q: string
  results: EntryView[]
  /** Peers whose last page had a cursor: their next page is one click away. */
  more: Map<string, { name: string; cursor: string }>
  failed: string[]
  /** Listings still streaming (the first all-peers one, then any "more" pages). */
  pending: number
  error?: string
  abort: AbortController
}

export function Search({ store }: { store: Store }) {
  const [, redraw] = useReducer((n: number) => n + 1, 0)
  const run = useRef<SearchRun | undefined>(undefined)
  useEffect(() => () => run.current?.abort.abort(), [])

  const onPage = (r: SearchRun) => (page: ApiEntryPage | ApiPeerError) => {
    if (page.type === 'peer-error') {
      r.failed.push(`${page.name}: ${page.message}`)
      r.more.delete(page.peer)
    } else {
      r.results.push(...pageEntries(page))
      if (page.cursor) r.more.set(page.peer, { name: page.name, cursor: page.cursor })
      else r.more.delete(page.peer)
    }
    redraw(0)
  }
  const stream = (r: SearchRun, body: Parameters<Store['api']['ls']>[0]) => {
    r.pending++
    redraw(0)
    store.api
      .ls({ ...body, path: '', search: r.q, limit: SEARCH_PAGE }, onPage(r), r.abort.signal)
      .catch((err: Error) => {
        r.error = err.message
      })
      .finally(() => {
        r.pending--
        if (run.current === r) redraw(0)
      })
  }

  const submit = (e: Event) => {
    e.preventDefault()
    const q = String(new FormData(e.target as HTMLFormElement).get('q') ?? '').trim()
    if (!q) return
    run.current?.abort.abort()
    const r: SearchRun = {
      q,
      results: [],
      more: new Map(),
      failed: [],
      pending: 0,
      abort: new AbortController(),
    }
    run.current = r
    // No peer: our peer asks everyone connected and streams pages as each answers.
    stream(r, { path: '' })
  }
  const loadMore = (r: SearchRun, peer: string) => {
    const next = r.more.get(peer)
    if (!next || r.pending > 0) return
    r.more.delete(peer)
    stream(r, { path: '', peer, cursor: next.cursor })
  }

  const r = run.current
  const n = r?.results.length ?? 0
  let status: string | undefined
  if (r && r.pending > 0) status = `Searching… ${n} so far`
  else if (r?.error) status = `Search stopped: ${r.error}`
  else if (r) {
    const noAnswer = r.failed.length ? ` (no answer from ${r.failed.join('; ')})` : ''
    const sofar = r.more.size > 0 ? ' so far' : ''
    status = `${n} result${n === 1 ? '' : 's'}${sofar} for “${r.q}”${noAnswer}`
  }
  return (
    <section class="search" aria-label="Search">
      <form class="row" onSubmit={submit}>
        <input
          name="q"
          type="search"
          placeholder="Search every peer's files"
          aria-label="Search every peer's files"
        />
        <button type="submit">Search</button>
      </form>
      {status ? (
        <p
          class="muted"
          role="status"
          data-testid={r && r.pending === 0 ? 'search-done' : undefined}
        >
          {status}
        </p>
      ) : null}
      {r && n > 0 ? (
        <VirtualList
          items={r.results}
          rowHeight={40}
          label="Search results"
          class="results"
          render={(e) => (
            <div class="entry" data-path={e.path}>
              <span class="name" title={e.path}>
                {baseName(e.path)}
                {e.dir ? '/' : ''} <small class="muted">{e.path}</small>
              </span>
              <span class="size">{bytes(e.size)}</span>
              <span class="muted peer-name">{e.peerName}</span>
              <button type="button" class="small" onClick={() => store.download(e.peer, e.path)}>
                Download
              </button>
            </div>
          )}
        />
      ) : null}
      {r && r.more.size > 0 ? (
        <div class="row more">
          {[...r.more].map(([peer, m]) => (
            <button
              type="button"
              key={peer}
              data-testid="search-more"
              disabled={r.pending > 0}
              onClick={() => loadMore(r, peer)}
            >
              More from {m.name}
            </button>
          ))}
        </div>
      ) : null}
    </section>
  )
}
