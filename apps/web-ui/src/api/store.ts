import type { ApiEvent, ApiInfo, ApiPeer } from '@harddrive-party/wire-protocol'
import type { ApiConnection, ConnectionState } from './connection'

export type TransferEvent = Extract<ApiEvent, { type: 'transfer' }>
export type ScanEvent = Extract<ApiEvent, { type: 'scan' }>
export type DiscoveryEvent = Extract<ApiEvent, { type: 'discovery' }>

/** Everything live on screen: filled by the first calls after each (re)connect, then by events. */
export interface AppState {
  connection: ConnectionState
  info?: ApiInfo
  peers: Map<string, ApiPeer>
  topics: string[]
  transfers: Map<string, TransferEvent>
  shareTotals?: { files: number; bytes: number }
  scans: Map<string, ScanEvent>
  discovery: { mqtt?: DiscoveryEvent; mdns?: DiscoveryEvent }
  log: { level: string; message: string; at: number }[]
  lastError?: string
}

const MAX_LOG = 200

export class Store {
  state: AppState = {
    connection: 'connecting',
    peers: new Map(),
    topics: [],
    transfers: new Map(),
    scans: new Map(),
    discovery: {},
    log: [],
  }
  private fns = new Set<() => void>()
  private scheduled = false

  constructor(readonly api: ApiConnection) {
    api.onState((s) => {
      this.update({ connection: s })
      if (s === 'open') void this.refresh()
    })
    api.onEvent((e) => this.apply(e))
    this.state.connection = api.state
  }

  subscribe(fn: () => void): () => void {
    this.fns.add(fn)
    return () => this.fns.delete(fn)
  }

  /** Batches changes into one render per frame: transfers report many times a second. */
  update(patch: Partial<AppState>) {
    this.state = { ...this.state, ...patch }
    if (this.scheduled) return
    this.scheduled = true
    const run = () => {
      this.scheduled = false
      for (const fn of this.fns) fn()
    }
    if (typeof requestAnimationFrame === 'function' && document.visibilityState === 'visible') {
      requestAnimationFrame(run)
    } else setTimeout(run, 50)
  }

  report(err: unknown) {
    const message = err instanceof Error ? err.message : String(err)
    this.update({ lastError: message })
  }

  clearError() {
    const { lastError: _, ...rest } = this.state
    this.state = rest
    this.update({})
  }

  /** Reloads what events do not carry in full; run after each (re)connect. */
  async refresh() {
    const api = this.api
    const results = await Promise.allSettled([
      api.call('info').then((info) => this.update({ info })),
      this.refreshPeers(),
      api.call('topics').then((r) => this.update({ topics: r.topics })),
      api
        .call('shares')
        .then((r) => this.update({ shareTotals: { files: r.files, bytes: r.bytes } })),
    ])
    for (const r of results) if (r.status === 'rejected') this.report(r.reason)
  }

  async refreshPeers() {
    const r = await this.api.call('peers')
    this.update({ peers: new Map(r.peers.map((p) => [p.key, p])) })
  }

  apply(e: ApiEvent) {
    const s = this.state
    switch (e.type) {
      case 'peer': {
        const peers = new Map(s.peers)
        const old = peers.get(e.key)
        peers.set(e.key, {
          ...(old ?? { topics: [], announcedVia: [] }),
          key: e.key,
          name: e.name,
          connected: e.state === 'connected',
          ...(e.topics ? { topics: e.topics } : {}),
        })
        this.update({ peers })
        // The event carries no doctor details; one call fetches them.
        void this.refreshPeers().catch((err) => this.report(err))
        return
      }
      case 'topics':
        this.update({ topics: e.topics.filter((t) => t.joined).map((t) => t.name) })
        return
      case 'transfer': {
        const transfers = new Map(s.transfers)
        transfers.set(e.requestId, e)
        this.update({ transfers })
        return
      }
      case 'shares':
        this.update({ shareTotals: { files: e.files, bytes: e.bytes } })
        return
      case 'scan': {
        const scans = new Map(s.scans)
        scans.set(e.share, e)
        this.update({ scans })
        return
      }
      case 'nat': {
        if (!s.info) return
        const { type: _, ...nat } = e
        this.update({ info: { ...s.info, nat } })
        return
      }
      case 'discovery':
        this.update({ discovery: { ...s.discovery, [e.via]: e } })
        return
      case 'log':
        this.update({
          log: [...s.log, { level: e.level, message: e.message, at: Date.now() }].slice(-MAX_LOG),
        })
        return
    }
  }
}
