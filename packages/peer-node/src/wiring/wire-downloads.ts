import type { Connection } from '@harddrive-party/transport'
import type { CreateLogger } from '@harddrive-party/wire-protocol'
import { peerRef } from '../connections/peers'
import { DownloadsImpl } from '../downloads/downloads'
import { createPeerClient, type PeerClient } from '../remote/peer-client'
import type { PeerNodeOptions } from '../types'
import type { Running } from './running'

/**
 * Builds the download queue on the index's wishlist. It reaches peers through one client per
 * live connection (a reconnect makes a new one), so requests share the connection's client.
 */
export function createDownloads(
  r: Pick<Running, 'storage' | 'limits' | 'registry' | 'connector' | 'book'>,
  o: PeerNodeOptions,
  downloadDir: string,
  logger: CreateLogger,
): DownloadsImpl {
  const clients = new WeakMap<Connection, PeerClient>()
  const clientOf = (hex: string): PeerClient | undefined => {
    const connection = r.registry.get(hex)
    if (connection === undefined) return undefined
    let client = clients.get(connection)
    if (client === undefined) {
      client = createPeerClient(connection, { logger })
      clients.set(connection, client)
    }
    return client
  }
  return new DownloadsImpl({
    wishlist: r.storage.store.wishlist,
    downloadDir,
    client: clientOf,
    peerName: (hex) => peerRef(Buffer.from(hex, 'hex'), r).name,
    options: {
      ...o.downloads,
      limits: { ...r.limits.split.downloads, ...o.downloads?.limits },
    },
    log: logger('downloads'),
  })
}
