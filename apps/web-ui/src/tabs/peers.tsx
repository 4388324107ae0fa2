import { useRef, useState } from 'preact/hooks'
import type { AppState, Store } from '../api/store'
import { type EntryView, type PeerView, toEntries } from '../api/views'
import { baseName, bytes } from '../ui/format'
import { VirtualList } from '../ui/virtual-list'
import { Browser } from './browse'

function connectionLine(p: PeerView): string {
  const c = p.connection
  if (!c) return p.connected ? 'connected' : 'not connected'
  const parts = [String(c.carrier ?? ''), c.remoteAddress ? String(c.remoteAddress) : '']
  if (typeof c.rttMs === 'number') parts.push(`${Math.round(c.rttMs)} ms`)
  return parts.filter(Boolean).join(' · ')
}

function Search({ store, state }: { store: Store; state: AppState }) {
  const [results, setResults] = useState<EntryView[]>([])
  const [busy, setBusy] = useState(false)
  const [done, setDone] = useState<string | undefined>()
  const run = useRef(0)
  const submit = (e: Event) => {
    e.preventDefault()
    const q = String(new FormData(e.target as HTMLFormElement).get('q') ?? '').trim()
    if (!q) return
    const mine = ++run.current
    const acc: EntryView[] = []
    setResults([])
    setBusy(true)
    setDone(undefined)
    // No peer: the peer asks everyone connected and streams results as each answers.
    store.api
      .request({ type: 'ls', path: '', search: q }, (data) => {
        if (mine !== run.current) return
        acc.push(...toEntries(data))
        setResults([...acc])
      })
      .then(() => mine === run.current && setDone(`${acc.length} results for “${q}”`))
      .catch((err: Error) => mine === run.current && setDone(`Search stopped: ${err.message}`))
      .finally(() => mine === run.current && setBusy(false))
  }
  const nameOf = (key: string | undefined) =>
    key ? (state.peers.get(key)?.name ?? key.slice(0, 8)) : ''
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
        <p class="muted">Searching… {results.length} so far</p>
      ) : done ? (
        <p class="muted">{done}</p>
      ) : null}
      {results.length > 0 ? (
        <VirtualList
          items={results}
          rowHeight={40}
          label="Search results"
          class="results"
          render={(r) => (
            <div class="entry">
              <span class="name" title={r.path}>
                {baseName(r.path)}
                {r.dir ? '/' : ''} <small class="muted">{r.path}</small>
              </span>
              <span class="size">{bytes(r.size)}</span>
              <span class="muted peer-name">{nameOf(r.peer)}</span>
              <button
                type="button"
                class="small"
                disabled={!r.peer}
                onClick={() =>
                  r.peer &&
                  store.api
                    .request({ type: 'download', peer: r.peer, path: r.path })
                    .catch((err) => store.report(err))
                }
              >
                Download
              </button>
            </div>
          )}
        />
      ) : null}
    </section>
  )
}

export function PeersTab({ store, state }: { store: Store; state: AppState; token: string }) {
  const [selected, setSelected] = useState<string | undefined>()
  const peers = [...state.peers.values()].sort(
    (a, b) => Number(b.connected) - Number(a.connected) || a.name.localeCompare(b.name),
  )
  const current = selected ? state.peers.get(selected) : undefined
  return (
    <div class="peers">
      <Search store={store} state={state} />
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
                {p.shareBytes !== undefined ? `${bytes(p.shareBytes)} shared · ` : ''}
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
