import { useEffect, useState } from 'preact/hooks'
import type { Store } from './api/store'
import { DoctorTab } from './tabs/doctor'
import { PairingTab } from './tabs/pairing'
import { PeersTab } from './tabs/peers'
import { SharesTab } from './tabs/shares'
import { TokenPage } from './tabs/token-page'
import { TopicsTab } from './tabs/topics'
import { TransfersTab } from './tabs/transfers'
import { useAppState } from './ui/use-store'

const TABS = [
  ['peers', 'Peers'],
  ['transfers', 'Transfers'],
  ['shares', 'Shares'],
  ['topics', 'Topics'],
  ['doctor', 'Doctor'],
  ['pairing', 'Pairing'],
] as const
export type TabId = (typeof TABS)[number][0]

function tabFromHash(): TabId {
  const h = location.hash.replace(/^#/, '')
  return TABS.find(([id]) => id === h)?.[0] ?? 'peers'
}

export function App({ store, token }: { store: Store; token: string }) {
  const state = useAppState(store)
  const [tab, setTab] = useState<TabId>(tabFromHash)
  useEffect(() => {
    const on = () => setTab(tabFromHash())
    addEventListener('hashchange', on)
    return () => removeEventListener('hashchange', on)
  }, [])

  if (state.connection === 'unauthorized' && !state.info) return <TokenPage reason="wrong" />

  const go = (id: TabId) => {
    location.hash = id
    setTab(id)
  }
  // Arrow keys move between tabs (WAI-ARIA tabs pattern).
  const onKey = (e: KeyboardEvent) => {
    const i = TABS.findIndex(([id]) => id === tab)
    const d = e.key === 'ArrowRight' ? 1 : e.key === 'ArrowLeft' ? -1 : 0
    if (!d) return
    const next = TABS[(i + d + TABS.length) % TABS.length]
    if (!next) return
    go(next[0])
    document.getElementById(`tab-${next[0]}`)?.focus()
  }
  const active = [...state.transfers.values()].filter(
    (t) => t.state === 'active' || t.state === 'queued',
  ).length

  return (
    <div class="shell">
      <header class="top">
        <span class="brand" title={state.info?.key}>
          harddrive-party{state.info?.name ? <small> · {state.info.name}</small> : null}
        </span>
        <div class="tabs" role="tablist" aria-label="Sections" onKeyDown={onKey}>
          {TABS.map(([id, label]) => (
            <button
              type="button"
              role="tab"
              id={`tab-${id}`}
              key={id}
              aria-selected={tab === id}
              tabIndex={tab === id ? 0 : -1}
              onClick={() => go(id)}
            >
              {label}
              {id === 'transfers' && active > 0 ? <span class="badge">{active}</span> : null}
              {id === 'peers' ? (
                <span class="badge subtle">
                  {[...state.peers.values()].filter((p) => p.connected).length}
                </span>
              ) : null}
            </button>
          ))}
        </div>
      </header>
      {state.connection !== 'open' ? (
        <div class="banner" role="alert" data-testid="banner">
          {state.connection === 'connecting'
            ? 'Connecting to your peer…'
            : state.connection === 'unauthorized'
              ? 'Your peer no longer accepts this token. Open the link it printed at start.'
              : 'Your peer is not reachable. Is it still running? Reconnecting by itself…'}
        </div>
      ) : null}
      {state.lastError ? (
        <div class="banner error" role="status">
          {state.lastError}{' '}
          <button type="button" class="link" onClick={() => store.clearError()}>
            dismiss
          </button>
        </div>
      ) : null}
      <main class="panel">
        <div role="tabpanel" aria-labelledby={`tab-${tab}`}>
          {tab === 'peers' ? <PeersTab store={store} state={state} /> : null}
          {tab === 'transfers' ? <TransfersTab store={store} state={state} /> : null}
          {tab === 'shares' ? <SharesTab store={store} state={state} /> : null}
          {tab === 'topics' ? <TopicsTab store={store} state={state} /> : null}
          {tab === 'doctor' ? <DoctorTab store={store} state={state} /> : null}
          {tab === 'pairing' ? <PairingTab token={token} /> : null}
        </div>
      </main>
    </div>
  )
}
