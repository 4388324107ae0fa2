import type { ApiEvent } from '@harddrive-party/wire-protocol'
import type { ApiConnection, ConnectionState } from './connection'
import {
  type InfoView,
  isObj,
  num,
  type PeerView,
  type TopicView,
  toInfo,
  toPeers,
  toTopics,
} from './views'

export type TransferEvent = Extract<ApiEvent, { type: 'transfer' }>

export interface ScanProgress {
  files?: number
  bytes?: number
  skipped: { path: string; reason: string }[]
  scanning: boolean
}

/** Everything live on screen: filled by the first calls after each (re)connect, then by events. */
export interface AppState {
  connection: ConnectionState
  info?: InfoView
  peers: Map<string, PeerView>
  topics: TopicView[]
  transfers: Map<string, TransferEvent>
  shares: ScanProgress
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
    shares: { skipped: [], scanning: false },
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

  async refresh() {
    const api = this.api
    const tasks: Promise<void>[] = [
      api.collect({ type: 'info' }).then((r) => {
        const info = toInfo(r[0])
        if (info) this.update({ info })
      }),
      this.refreshPeers(),
      api.collect({ type: 'topics' }).then((r) => this.update({ topics: r.flatMap(toTopics) })),
      api.collect({ type: 'queue' }).then((r) => {
        const transfers = new Map<string, TransferEvent>()
        for (const t of r.flatMap((d) =>
          Array.isArray(d) ? d : isObj(d) && Array.isArray(d.transfers) ? d.transfers : [d],
        )) {
          const ev = toTransfer(t)
          if (ev) transfers.set(ev.requestId, ev)
        }
        this.update({ transfers })
      }),
    ]
    const results = await Promise.allSettled(tasks)
    for (const r of results) if (r.status === 'rejected') this.report(r.reason)
  }

  async refreshPeers() {
    const r = await this.api.collect({ type: 'peers' })
    const peers = new Map<string, PeerView>()
    for (const p of r.flatMap(toPeers)) peers.set(p.key, p)
    this.update({ peers })
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
        this.update({ topics: e.topics })
        return
      case 'transfer': {
        const transfers = new Map(s.transfers)
        transfers.set(e.requestId, e)
        this.update({ transfers })
        return
      }
      case 'shares':
        this.update({ shares: { ...s.shares, files: e.files, bytes: e.bytes, scanning: false } })
        return
      case 'log': {
        const log = [...s.log, { level: e.level, message: e.message, at: Date.now() }].slice(
          -MAX_LOG,
        )
        this.update({ log })
        return
      }
      default: {
        // Event kinds added to the API after this UI was built are shown as log lines.
        const other = e as { type: string }
        this.apply({ type: 'log', level: 'info', message: `event ${other.type}` })
      }
    }
  }
}

const STATES = new Set(['queued', 'active', 'paused', 'done', 'failed'])

export function toTransfer(v: unknown): TransferEvent | undefined {
  if (!isObj(v) || typeof v.requestId !== 'string' || typeof v.path !== 'string') return undefined
  const state =
    typeof v.state === 'string' && STATES.has(v.state)
      ? (v.state as TransferEvent['state'])
      : 'queued'
  const t: TransferEvent = {
    type: 'transfer',
    direction: v.direction === 'upload' ? 'upload' : 'download',
    requestId: v.requestId,
    peer: typeof v.peer === 'string' ? v.peer : '',
    path: v.path,
    bytes: num(v.bytes) ?? 0,
    total: num(v.total) ?? num(v.size) ?? 0,
    bytesPerSecond: num(v.bytesPerSecond) ?? 0,
    state,
  }
  const q = num(v.queuePosition)
  if (q !== undefined) t.queuePosition = q
  if (typeof v.error === 'string') t.error = v.error
  return t
}
