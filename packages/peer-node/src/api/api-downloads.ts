import type { ApiCommand, ApiDownload, ApiEvent, ApiUpload } from '@harddrive-party/wire-protocol'
import type { DownloadProgressEvent, DownloadRequest } from '../downloads/download-types'
import type { Upload } from '../serving/upload-tracker'
import type { PeerNode } from '../types'
import { ApiError } from './api-error'

type QueueCommand = Extract<
  ApiCommand,
  { type: 'download' | 'queue' | 'pause' | 'resume' | 'cancel' | 'reorder' }
>

/** The download-queue commands, over `node.downloads`. */
export async function runDownloadCommand(node: PeerNode, command: QueueCommand) {
  const downloads = node.downloads
  switch (command.type) {
    case 'download': {
      const request = await downloads.add(peerKey(node, command.peer), command.path)
      return { request: apiDownload(request) }
    }
    case 'queue': {
      const key = command.peer === undefined ? undefined : peerKey(node, command.peer)
      const all = await downloads.list()
      return { requests: all.filter((r) => key === undefined || r.peer === key).map(apiDownload) }
    }
    case 'pause':
      return { request: apiDownload(await downloads.pause(known(node, command.requestId))) }
    case 'resume':
      return { request: apiDownload(await downloads.resume(known(node, command.requestId))) }
    case 'cancel':
      return { cancelled: await downloads.cancel(known(node, command.requestId)) }
    case 'reorder': {
      if (command.position < 1) throw new ApiError('BAD_REQUEST', 'positions start at 1')
      const id = known(node, command.requestId)
      return { request: apiDownload(await downloads.reorder(id, command.position)) }
    }
  }
}

/** A peer we may download from: a connected or remembered peer's name or key, or any hex key. */
function peerKey(node: PeerNode, ref: string): string {
  const lower = ref.toLowerCase()
  const peer = node.peers().find((p) => p.hex === lower || p.name === ref)
  if (peer !== undefined) return peer.hex
  if (/^[0-9a-f]{64}$/.test(lower)) return lower
  throw new ApiError('NOT_FOUND', `no known peer ${JSON.stringify(ref)}`)
}

function known(node: PeerNode, id: string): string {
  if (node.downloads.get(id) === undefined) {
    throw new ApiError('NOT_FOUND', `no download ${JSON.stringify(id)}`)
  }
  return id
}

export function apiDownload(r: DownloadRequest): ApiDownload {
  return { ...r }
}

export function apiUpload(u: Upload): ApiUpload {
  return { ...u }
}

/** An upload as a `transfer` event: `total` is the range the reader asked for. */
export function uploadEvent(u: Upload): ApiEvent {
  return {
    type: 'transfer',
    direction: 'upload',
    requestId: u.id,
    peer: u.peer,
    peerName: u.peerName,
    path: u.path,
    bytes: u.bytes,
    total: u.length,
    bytesPerSecond: u.bytesPerSecond,
    state: u.state,
    ...(u.queuePosition !== undefined ? { queuePosition: u.queuePosition } : {}),
    ...(u.error !== undefined ? { error: u.error } : {}),
  }
}

const TRANSFER_STATE = {
  queued: 'queued',
  waiting: 'queued',
  active: 'active',
  paused: 'paused',
  done: 'done',
  failed: 'failed',
} as const

/** `transfer` events from the download queue's changes and (throttled) progress. */
export function forwardDownloadEvents(node: PeerNode, emit: (event: ApiEvent) => void): () => void {
  const downloads = node.downloads
  const speed = new Map<string, number>()
  /** Bytes done by the latest progress event of each active request. */
  const current = new Map<string, number>()
  const send = (
    r: DownloadRequest,
    extra: { bytesPerSecond?: number; queuePosition?: number; bytesDone?: number },
  ) =>
    emit({
      type: 'transfer',
      direction: 'download',
      requestId: r.id,
      peer: r.peer,
      path: r.path,
      // The request's own count is persisted once a second; a progress event's is current.
      bytes: extra.bytesDone ?? Math.max(r.bytesDone, current.get(r.id) ?? 0),
      total: r.size,
      bytesPerSecond: Math.round(extra.bytesPerSecond ?? speed.get(r.id) ?? 0),
      state: TRANSFER_STATE[r.state],
      ...(extra.queuePosition !== undefined ? { queuePosition: extra.queuePosition } : {}),
      ...(r.state === 'failed' && r.reason !== undefined ? { error: r.reason } : {}),
    })
  const onChange = (e: Event) => {
    const { request, removed } = (e as CustomEvent<{ request: DownloadRequest; removed: boolean }>)
      .detail
    if (removed) speed.delete(request.id)
    if (removed || request.state !== 'active') current.delete(request.id)
    send(request, {})
  }
  const onProgress = (e: Event) => {
    const p = (e as CustomEvent<DownloadProgressEvent>).detail
    speed.set(p.requestId, p.bytesPerSecond)
    current.set(p.requestId, p.bytesDone)
    const request = downloads.get(p.requestId)
    if (request !== undefined) {
      send(request, {
        bytesPerSecond: p.bytesPerSecond,
        bytesDone: p.bytesDone,
        ...(p.queuePosition !== undefined ? { queuePosition: p.queuePosition } : {}),
      })
    }
  }
  const onError = (e: Event) => {
    const d = (e as CustomEvent<{ code: string; message: string }>).detail
    emit({ type: 'log', level: 'warn', message: `download ${d.code}: ${d.message}` })
  }
  downloads.addEventListener('download:change', onChange)
  downloads.addEventListener('download:progress', onProgress)
  downloads.addEventListener('download:error', onError)
  return () => {
    downloads.removeEventListener('download:change', onChange)
    downloads.removeEventListener('download:progress', onProgress)
    downloads.removeEventListener('download:error', onError)
  }
}
