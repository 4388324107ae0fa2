import type { Connection } from '@harddrive-party/transport'
import { displayNames } from '../peer-names'
import type { ConnectionSummary, PeerInfo, PeerRef } from '../types'
import type { ConnectionRegistry } from './connection-registry'
import type { Connector } from './connector'
import type { PeerBook } from './peer-book'

/** Everyone we know: announced now, connected now, or remembered. */
function knownKeys(
  connector: Connector,
  registry: ConnectionRegistry,
  book: PeerBook,
): Uint8Array[] {
  const hexes = new Set<string>([
    ...connector.announced().keys(),
    ...registry.all().map((c) => Buffer.from(c.remotePublicKey).toString('hex')),
    ...book.list().map((p) => p.key),
  ])
  return [...hexes].map((h) => Buffer.from(h, 'hex'))
}

/** A peer's display name among the peers we know (a key suffix where names collide). */
export function peerRef(
  key: Uint8Array,
  parts: { connector: Connector; registry: ConnectionRegistry; book: PeerBook },
): PeerRef {
  const hex = Buffer.from(key).toString('hex')
  const names = displayNames([...knownKeys(parts.connector, parts.registry, parts.book), key])
  return { key: new Uint8Array(key), hex, name: names.get(hex)! }
}

/** What the connection doctor shows for every announced or connected peer. */
export function listPeers(parts: {
  connector: Connector
  registry: ConnectionRegistry
  book: PeerBook
  topicName: (publicId: string) => string | undefined
}): PeerInfo[] {
  const { connector, registry, book } = parts
  const names = displayNames(knownKeys(connector, registry, book))
  const announced = connector.announced()
  const hexes = new Set([
    ...announced.keys(),
    ...registry.all().map((c) => Buffer.from(c.remotePublicKey).toString('hex')),
  ])
  return [...hexes].sort().map((hex) => {
    const found = announced.get(hex) ?? []
    const connection = registry.get(hex)
    return {
      key: Buffer.from(hex, 'hex'),
      hex,
      name: names.get(hex)!,
      connected: connection !== undefined,
      topics: [
        ...new Set(
          found.map((f) => parts.topicName(f.topic.publicId)).filter((n) => n !== undefined),
        ),
      ],
      announcedVia: [...new Set(found.map((f) => f.via))],
      attempt: connector.info(hex),
      connection: connection && summary(connection, registry, parts.topicName),
    }
  })
}

function summary(
  connection: Connection,
  registry: ConnectionRegistry,
  topicName: (publicId: string) => string | undefined,
): ConnectionSummary {
  const stats = connection.stats()
  return {
    carrier: connection.carrier,
    path: registry.pathOf(connection),
    initiator: connection.initiator,
    remoteAddress: { ...connection.remoteAddress },
    topic: topicName(connection.topic.publicId) ?? connection.topic.name,
    rttMs: stats.rttMs,
    bytesSent: stats.bytesSent,
    bytesReceived: stats.bytesReceived,
    connectedAt: registry.liveSince(connection) ?? 0,
  }
}
