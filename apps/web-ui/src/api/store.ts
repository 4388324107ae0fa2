import type {
  ApiDownload,
  ApiEvent,
  ApiInfo,
  ApiPeer,
  ApiUpload,
} from '@harddrive-party/wire-protocol'
import type { ApiConnection, ConnectionState } from './connection'

export type TransferEvent = Extract<ApiEvent, { type: 'transfer' }>

/** One transfer on screen: a download request (file or folder) or an upload, kept live by events. */
export interface TransferView {
  requestId: string
  direction: 'download' | 'upload'
  peer: string
  peerName?: string
  path: string
  dir: boolean
  state: TransferEvent['state']
  bytes: number
  total: number
  bytesPerSecond: number
  files?: number
  filesDone?: number
  /** Our queue's order (1 = next), for reorder. */
  position?: number
  /** Downloads: where the other peer's upload queue has us; uploads: where ours has them. */
  queuePosition?: number
  error?: string
}

export function fromDownload(d: ApiDownload): TransferView {
  const t: TransferView = {
    requestId: d.id,
    direction: 'download',
    peer: d.peer,
    peerName: d.peerName,
    path: d.path,
    dir: d.dir,
    state: d.state === 'waiting' ? 'queued' : d.state,
    bytes: d.bytesDone,
    total: d.size,
    bytesPerSecond: 0,
    files: d.files,
    filesDone: d.filesDone,
  }
  if (d.position !== undefined) t.position = d.position
  if (d.reason !== undefined) t.error = d.reason
  return t
}
/** A peer reading one of our files, as the `uploads` command lists it. */
export function fromUpload(u: ApiUpload): TransferView {
  const t: TransferView = {
    requestId: u.id,
    direction: 'upload',
    peer: u.peer,
    peerName: u.peerName,
    path: u.path,
    dir: false,
    state: u.state,
    bytes: u.bytes,
    total: u.length,
    bytesPerSecond: u.bytesPerSecond,
  }
  if (u.queuePosition !== undefined) t.queuePosition = u.queuePosition
  if (u.error !== undefined) t.error = u.error
  return t
}

/** Ended uploads kept on screen (a folder read by someone ends one upload per file). */
const KEEP_ENDED_UPLOADS = 32
const ENDED: ReadonlySet<TransferView['state']> = new Set(['done', 'failed', 'cancelled'])

export type ScanEvent = Extract<ApiEvent, { type: 'scan' }>
export type DiscoveryEvent = Extract<ApiEvent, { type: 'discovery' }>

/** Everything live on screen: filled by the first calls after each (re)connect, then by events. */
export interface AppState {
  connection: ConnectionState
  info?: ApiInfo
  peers: Map<string, ApiPeer>
  topics: string[]
  transfers: Map<string, TransferView>
  /** False until the first `queue` answer: the Transfers tab says loading, not empty. */
  queueLoaded: boolean
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
    queueLoaded: false,
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

  private queueTimer: ReturnType<typeof setTimeout> | undefined

  private scheduleQueue() {
    if (this.queueTimer) return
    this.queueTimer = setTimeout(() => {
      this.queueTimer = undefined
      void this.refreshQueue().catch((err) => this.report(err))
    }, 300)
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
      this.refreshQueue(),
      this.refreshUploads(),
    ])
    for (const r of results) if (r.status === 'rejected') this.report(r.reason)
  }

  async refreshQueue() {
    const r = await this.api.call('queue')
    const transfers = new Map<string, TransferView>()
    for (const t of this.state.transfers.values())
      if (t.direction === 'upload') transfers.set(t.requestId, t)
    for (const d of r.requests) transfers.set(d.id, fromDownload(d))
    this.update({ transfers, queueLoaded: true })
  }

  /** Who reads our files now (and lately): events only tell what changes after we connect. */
  async refreshUploads() {
    const r = await this.api.call('uploads')
    const transfers = new Map<string, TransferView>()
    for (const t of this.state.transfers.values())
      if (t.direction === 'download') transfers.set(t.requestId, t)
    // The list has the newest ended first; the map keeps the oldest first (see pruning).
    for (const u of [...r.uploads].reverse()) transfers.set(u.id, fromUpload(u))
    this.update({ transfers })
  }

  /** Keeps a download's fields the events do not carry (files, position) after a command. */
  applyDownload(d: ApiDownload) {
    const transfers = new Map(this.state.transfers)
    const old = transfers.get(d.id)
    transfers.set(d.id, { ...fromDownload(d), bytesPerSecond: old?.bytesPerSecond ?? 0 })
    this.update({ transfers })
  }

  /** Queues a file or folder of a peer. */
  download(peer: string, path: string) {
    this.api
      .call('download', { peer, path })
      .then((r) => this.applyDownload(r.request))
      .catch((err) => this.report(err))
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
        const old = transfers.get(e.requestId)
        const { type: _, ...live } = e
        transfers.set(e.requestId, { dir: false, ...old, ...live })
        if (e.direction === 'upload') {
          if (ENDED.has(e.state)) pruneEndedUploads(transfers)
          this.update({ transfers })
          return
        }
        this.update({ transfers })
        // A new request or a state change moves others in our queue: their positions come from
        // one call (events carry no position).
        if (!old || old.state !== e.state) this.scheduleQueue()
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

/** Drops the oldest ended uploads beyond the few kept (a Map keeps insertion order). */
function pruneEndedUploads(transfers: Map<string, TransferView>) {
  const ended = [...transfers.values()].filter(
    (t) => t.direction === 'upload' && ENDED.has(t.state),
  )
  for (const t of ended.slice(0, Math.max(0, ended.length - KEEP_ENDED_UPLOADS)))
    transfers.delete(t.requestId)
}
