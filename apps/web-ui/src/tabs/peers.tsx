import { useEffect, useRef, useState } from 'preact/hooks'
import type { AppState, Store } from '../api/store'
import { type EntryView, type PeerView, pageEntries } from '../api/views'
import { baseName, bytes } from '../ui/format'
import { VirtualList } from '../ui/virtual-list'
import { Browser } from './browse'

function connectionLine(p: PeerView): string {
  const c = p.connection
  if (!c) return p.connected ? 'connected' : 'not connected'
  return `${c.carrier.toUpperCase()} · ${c.remoteAddress.host}:${c.remoteAddress.port} · ${Math.round(c.rttMs)} ms`
}

function Search({ store }: { store: Store }) {
  const [results, setResults] = useState<EntryView[]>([])
  const [busy, setBusy] = useState(false)
  const [done, setDone] = useState<string | undefined>()
  const run = useRef<AbortController | undefined>(undefined)
  const submit = (e: Event) => {
    e.preventDefault()
    const q = String(new FormData(e.target as HTMLFormElement).get('q') ?? '').trim()
    if (!q) return
    run.current?.abort()
    const mine = new AbortController()
    run.current = mine
    const acc: EntryView[] = []
    const failed: string[] = []
    setResults([])
    setBusy(true)
    setDone(undefined)
    // No peer: our peer asks everyone connected and streams pages as each answers.
    store.api
      .ls(
        { path: '', search: q },
        (page) => {
          if (page.type === 'peer-error') failed.push(`${page.name}: ${page.message}`)
          else acc.push(...pageEntries(page))
          setResults([...acc])
        },
        mine.signal,
      )
      .then(() => {
        const more = failed.length ? ` (no answer from ${failed.join('; ')})` : ''
        setDone(`${acc.length} result${acc.length === 1 ? '' : 's'} for “${q}”${more}`)
      })
      .catch((err: Error) => !mine.signal.aborted && setDone(`Search stopped: ${err.message}`))
      .finally(() => !mine.signal.aborted && setBusy(false))
  }
  useEffect(() => () => run.current?.abort(), [])
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
      {busy ? (
        <p class="muted" role="status">
          Searching… {results.length} so far
        </p>
      ) : done ? (
        <p class="muted" role="status" data-testid="search-done">
          {done}
        </p>
      ) : null}
      {results.length > 0 ? (
        <VirtualList
          items={results}
          rowHeight={40}
          label="Search results"
          class="results"
          render={(r) => (
            <div class="entry" data-path={r.path}>
              <span class="name" title={r.path}>
                {baseName(r.path)}
                {r.dir ? '/' : ''} <small class="muted">{r.path}</small>
              </span>
              <span class="size">{bytes(r.size)}</span>
              <span class="muted peer-name">{r.peerName}</span>
              <button type="button" class="small" onClick={() => store.download(r.peer, r.path)}>
                Download
              </button>
            </div>
          )}
        />
      ) : null}
    </section>
  )
}

/** Total shared by each connected peer: the sum of its top-level shares, listed once. */
function useShareSizes(store: Store, peers: PeerView[]) {
  const [sizes, setSizes] = useState(() => new Map<string, number>())
  const asked = useRef(new Set<string>())
  useEffect(() => {
    for (const p of peers) {
      if (!p.connected || asked.current.has(p.key)) continue
      asked.current.add(p.key)
      let total = 0
      store.api
        .ls({ peer: p.key, path: '' }, (page) => {
          if (page.type === 'page') for (const e of page.entries) total += e.size
        })
        .then(() => setSizes((m) => new Map(m).set(p.key, total)))
        .catch(() => asked.current.delete(p.key))
    }
  }, [store, peers])
  return sizes
}

export function PeersTab({ store, state }: { store: Store; state: AppState }) {
  const [selected, setSelected] = useState<string | undefined>()
  const peers = [...state.peers.values()].sort(
    (a, b) => Number(b.connected) - Number(a.connected) || a.name.localeCompare(b.name),
  )
  const sizes = useShareSizes(store, peers)
  const current = selected ? state.peers.get(selected) : undefined
  return (
    <div class="peers">
      <Search store={store} />
      <ul class="cards" aria-label="Peers">
        {peers.length === 0 ? (
          <li class="muted">
            No peers yet. Join a topic (Topics tab) that the others have joined too.
          </li>
        ) : null}
        {peers.map((p) => (
          <li key={p.key} class={`card ${p.connected ? '' : 'off'}`} data-peer={p.name}>
            <div>
              <strong>{p.name}</strong>{' '}
              <span
                class={`dot ${p.connected ? 'on' : ''}`}
                title={p.connected ? 'connected' : 'not connected'}
              />
              <div class="muted small-text">
                {sizes.has(p.key) ? `${bytes(sizes.get(p.key))} shared · ` : ''}
                {connectionLine(p)}
              </div>
            </div>
            <button
              type="button"
              disabled={!p.connected}
              aria-pressed={selected === p.key}
              onClick={() => setSelected(selected === p.key ? undefined : p.key)}
            >
              {selected === p.key ? 'Close' : 'Browse'}
            </button>
          </li>
        ))}
      </ul>
      {current ? <Browser key={current.key} store={store} state={state} peer={current} /> : null}
    </div>
  )
}
