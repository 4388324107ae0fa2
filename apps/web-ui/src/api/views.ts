/**
 * What the pages show, read out of API results. Results arrive as `unknown` (the API's
 * `data`), so every field is checked here once and pages never touch raw data.
 */

export interface EntryView {
  path: string
  size: number
  dir: boolean
  files?: number
  mtime?: number
  /** The peer it came from (search results across peers; browse rows know theirs). */
  peer?: string
}

export interface PeerView {
  key: string
  name: string
  connected: boolean
  topics: string[]
  announcedVia: string[]
  attempt?: Record<string, unknown>
  connection?: Record<string, unknown>
  shareBytes?: number
  shareFiles?: number
}

export interface TopicView {
  name: string
  joined: boolean
}

export interface InfoView {
  name: string
  key: string
  nat?: Record<string, unknown>
  addresses: string[]
  versions: Record<string, string>
  /** Where the UI is reachable beyond loopback, when it is bound so. */
  uiUrls: string[]
  uiHost?: string
  broker?: Record<string, unknown>
  mdns?: Record<string, unknown>
  raw: Record<string, unknown>
}

type Obj = Record<string, unknown>
export const isObj = (v: unknown): v is Obj =>
  typeof v === 'object' && v !== null && !Array.isArray(v)
export const str = (v: unknown, fallback = ''): string => (typeof v === 'string' ? v : fallback)
export const num = (v: unknown): number | undefined =>
  typeof v === 'number' && Number.isFinite(v) ? v : undefined
const strs = (v: unknown): string[] =>
  Array.isArray(v) ? v.filter((x): x is string => typeof x === 'string') : []

export function toEntry(v: unknown, peer?: string): EntryView | undefined {
  if (!isObj(v) || typeof v.path !== 'string') return undefined
  const e: EntryView = { path: v.path, size: num(v.size) ?? 0, dir: v.dir === true }
  const files = num(v.files)
  if (files !== undefined) e.files = files
  const mtime = num(v.mtime)
  if (mtime !== undefined) e.mtime = mtime
  const p = typeof v.peer === 'string' ? v.peer : peer
  if (p !== undefined) e.peer = p
  return e
}

/** One `ls`/`shares` result: an entry, a list of them, or `{ peer?, entries }`. */
export function toEntries(data: unknown, peer?: string): EntryView[] {
  if (Array.isArray(data)) return data.flatMap((d) => toEntries(d, peer))
  if (isObj(data) && Array.isArray(data.entries)) {
    const p = typeof data.peer === 'string' ? data.peer : peer
    return data.entries.flatMap((d) => toEntries(d, p))
  }
  const e = toEntry(data, peer)
  return e ? [e] : []
}

export function toPeer(v: unknown): PeerView | undefined {
  if (!isObj(v)) return undefined
  const key = str(v.hex) || str(v.key)
  if (!key) return undefined
  const p: PeerView = {
    key,
    name: str(v.name, key.slice(0, 8)),
    connected: v.connected === true || v.state === 'connected',
    topics: strs(v.topics),
    announcedVia: strs(v.announcedVia),
  }
  if (isObj(v.attempt)) p.attempt = v.attempt
  if (isObj(v.connection)) p.connection = v.connection
  const shares = isObj(v.shares) ? v.shares : v
  const bytes = num(shares.bytes) ?? num(v.shareBytes)
  const files = num(shares.files) ?? num(v.shareFiles)
  if (bytes !== undefined) p.shareBytes = bytes
  if (files !== undefined) p.shareFiles = files
  return p
}

export function toPeers(data: unknown): PeerView[] {
  const list = Array.isArray(data)
    ? data
    : isObj(data) && Array.isArray(data.peers)
      ? data.peers
      : [data]
  return list.flatMap((p) => toPeer(p) ?? [])
}

export function toTopics(data: unknown): TopicView[] {
  const list = Array.isArray(data)
    ? data
    : isObj(data) && Array.isArray(data.topics)
      ? data.topics
      : [data]
  return list.flatMap((t) => {
    if (typeof t === 'string') return [{ name: t, joined: true }]
    if (isObj(t) && typeof t.name === 'string')
      return [{ name: t.name, joined: t.joined !== false }]
    return []
  })
}

export function toInfo(data: unknown): InfoView | undefined {
  if (!isObj(data)) return undefined
  const versions: Record<string, string> = {}
  if (isObj(data.versions)) {
    for (const [k, v] of Object.entries(data.versions)) versions[k] = String(v)
  }
  const addresses = (Array.isArray(data.addresses) ? data.addresses : []).map((a) =>
    isObj(a)
      ? `${str(a.host)}:${String(a.port ?? '')}${a.class ? ` (${String(a.class)})` : ''}`
      : String(a),
  )
  const info: InfoView = {
    name: str(data.name),
    key: str(data.key) || str(data.hex),
    addresses,
    versions,
    uiUrls: strs(data.uiUrls),
    raw: data,
  }
  if (isObj(data.nat)) info.nat = data.nat
  if (isObj(data.ui) && typeof data.ui.host === 'string') info.uiHost = data.ui.host
  if (typeof data.uiHost === 'string') info.uiHost = data.uiHost
  if (isObj(data.broker)) info.broker = data.broker
  if (isObj(data.mdns)) info.mdns = data.mdns
  return info
}
