import { useEffect, useRef, useState } from 'preact/hooks'
import type { AppState, Store } from '../api/store'
import type { PeerView } from '../api/views'
import { bytes } from '../ui/format'
import { Browser } from './browse'
import { Search } from './search'

function connectionLine(p: PeerView): string {
  const c = p.connection
  if (!c) return p.connected ? 'connected' : 'not connected'
  return `${c.carrier.toUpperCase()} · ${c.remoteAddress.host}:${c.remoteAddress.port} · ${Math.round(c.rttMs)} ms`
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
