import type { ApiEvent } from '@harddrive-party/wire-protocol'
import type { Upload } from '../serving/upload-tracker'
import type { PeerNode } from '../types'
import { forwardDownloadEvents, uploadEvent } from './api-downloads'

/**
 * Turns the node's events into API events; returns the function that unsubscribes. The
 * store's `change` becomes `shares` with the new totals.
 */
export function forwardNodeEvents(node: PeerNode, emit: (event: ApiEvent) => void): () => void {
  const hex = (key: Uint8Array) => Buffer.from(key).toString('hex')
  const onConnect = (e: Event) => {
    const { peer } = (e as CustomEvent<{ peer: { key: Uint8Array; name: string } }>).detail
    const info = node.peers().find((p) => p.hex === hex(peer.key))
    emit({
      type: 'peer',
      key: hex(peer.key),
      name: peer.name,
      state: 'connected',
      ...(info ? { topics: info.topics } : {}),
    })
  }
  const onDisconnect = (e: Event) => {
    const { peer } = (e as CustomEvent<{ peer: { key: Uint8Array; name: string } }>).detail
    emit({ type: 'peer', key: hex(peer.key), name: peer.name, state: 'disconnected' })
  }
  const onNat = () => {
    const nat = node.nat
    emit({
      type: 'nat',
      nat: nat.nat,
      portAllocation: nat.portAllocation,
      ...(nat.publicAddress ? { publicAddress: { ...nat.publicAddress } } : {}),
      reason: nat.reason,
    })
  }
  const onDiscovery = (e: Event) => {
    const s = (
      e as CustomEvent<{ via: 'mqtt' | 'mdns'; state: 'online' | 'offline'; message: string }>
    ).detail
    emit({ type: 'discovery', via: s.via, state: s.state, message: s.message })
  }
  const onChange = (e: Event) => {
    const totals = (e as CustomEvent<{ files: number; bytes: number }>).detail
    emit({ type: 'shares', files: totals.files, bytes: totals.bytes })
  }
  const onUpload = (e: Event) => emit(uploadEvent((e as CustomEvent<Upload>).detail))
  const stopDownloads = forwardDownloadEvents(node, emit)
  const store = node.store
  node.addEventListener('peer:connect', onConnect)
  node.addEventListener('peer:disconnect', onDisconnect)
  node.addEventListener('nat', onNat)
  node.addEventListener('discovery:status', onDiscovery)
  node.addEventListener('upload', onUpload)
  store.addEventListener('change', onChange)
  return () => {
    node.removeEventListener('peer:connect', onConnect)
    node.removeEventListener('peer:disconnect', onDisconnect)
    node.removeEventListener('nat', onNat)
    node.removeEventListener('discovery:status', onDiscovery)
    node.removeEventListener('upload', onUpload)
    store.removeEventListener('change', onChange)
    stopDownloads()
  }
}
