import type { Connection } from '@harddrive-party/transport'
import type { CreateLogger, Logger } from '@harddrive-party/wire-protocol'
import type { TypedEventEmitter } from 'main-event'
import { CarrierMover, SLOW_BYTES_PER_SECOND } from '../connections/carrier-move'
import { ConnectionRegistry } from '../connections/connection-registry'
import { Connector } from '../connections/connector'
import { PeerBook } from '../connections/peer-book'
import { peerRef } from '../connections/peers'
import { describeError } from '../errors'
import { RelayRoom } from '../relay/relay-room'
import type { PeerNodeEvents, PeerNodeOptions, PeerRef } from '../types'
import type { Running } from './running'

type ConnectionParts = Pick<Running, 'registry' | 'book' | 'connector' | 'relay'>

/**
 * Builds the connection rooms: the registry of live connections, the book of remembered peers
 * (loaded from storage) and the connector that decides how to reach each discovered peer.
 */
export async function createConnections(
  parts: Partial<Running> & Pick<Running, 'storage' | 'transport' | 'puncher' | 'announcer'>,
  o: PeerNodeOptions,
  logger: CreateLogger,
): Promise<ConnectionParts> {
  const { storage, transport, puncher, announcer } = parts
  const drainMs = o.connect?.drainMs
  const registry = new ConnectionRegistry(transport.publicKey, logger('connections'), {
    ...(drainMs !== undefined ? { drainMs } : {}),
  })
  const book = new PeerBook({ write: (v) => storage.writePeers(v), log: logger('peers') })
  book.load(await storage.readPeers().catch(() => undefined))
  const relay: RelayRoom = new RelayRoom({
    options: o.relay,
    transport,
    registry,
    announced: () => connector.announced(),
    logger,
  })
  const connector: Connector = new Connector({
    transport,
    puncher,
    registry,
    publicKey: transport.publicKey,
    localNat: () => announcer.localNat(),
    hasIpv6: () => announcer.hasIpv6,
    log: logger('connector'),
    ...connectOptions(o),
    turn: {
      relayed: () => parts.turn?.relayed,
      permit: (hosts) => parts.turn?.permit(hosts) ?? Promise.resolve(),
    },
    // Discovery starts after the connector; attempts begin only once it is there.
    requestConnect: (topic, key) =>
      parts.discovery?.requestConnect(topic, key) ?? Promise.resolve(false),
    relayDial: (key, topic, signal) => relay.dial(key, topic, signal),
  })
  return { registry, book, connector, relay }
}

/** What the connection events reach outside the connection rooms. */
export interface ConnectionHooks {
  events: TypedEventEmitter<PeerNodeEvents>
  onConnection: ((peer: PeerRef, connection: Connection) => void) | undefined
  log: Logger
}

/**
 * Routes connection events: a new transport connection goes to the registry; a live one is
 * remembered in the book, announced as `peer:connect`, served, and offered to the downloads and
 * the embedder's `onConnection` hook; a gone one is announced as `peer:disconnect`.
 */
export function wireConnectionEvents(r: Running, hooks: ConnectionHooks): void {
  const parts = { connector: r.connector, registry: r.registry, book: r.book }
  r.transport.addEventListener('connection', ({ detail }) => {
    // Through our TURN allocation (from its loopback stand-in): ranks below a direct one.
    if (r.turn?.carries(detail.remoteAddress)) r.registry.markTurn(detail)
    r.registry.add(detail)
  })
  r.registry.addEventListener('live', ({ detail }) => {
    const { connection } = detail
    const peer = peerRef(detail.key, parts)
    // Remembered for the next start: the address we reached (an accepted connection's source
    // port may be ephemeral), then what the peer announced.
    const found = r.connector.announced().get(peer.hex) ?? []
    const announced = found.flatMap((f) => f.announcement.addresses.filter((a) => a.port > 0))
    // A relayed connection's address is the relay's: nothing to dial the peer at next time.
    const dialled =
      connection.initiator && connection.carrier !== 'relay' ? [connection.remoteAddress] : []
    r.book.remember(peer.hex, connection.topic.publicId, [...dialled, ...announced])
    const replaced = detail.replaced !== undefined
    hooks.events.safeDispatchEvent('peer:connect', { detail: { peer, connection, replaced } })
    r.downloads.peerChanged()
    void r.server.serve(connection).catch((err: unknown) => {
      hooks.log.error('serving %s ended: %s', peer.name, describeError(err))
    })
    try {
      hooks.onConnection?.(peer, connection)
    } catch (err) {
      hooks.log.error('onConnection hook threw: %s', describeError(err))
    }
  })
  r.registry.addEventListener('gone', ({ detail }) => {
    const peer = peerRef(detail.key, parts)
    hooks.events.safeDispatchEvent('peer:disconnect', {
      detail: { peer, reason: detail.reason },
    })
    r.downloads.peerChanged()
  })
  r.server.addEventListener('upload', ({ detail }) =>
    hooks.events.safeDispatchEvent('upload', { detail }),
  )
}

/**
 * The carrier move (TCP to UDX when TCP is the brake), unless `connect.moveToUdx` is false. Our
 * side holds nothing back when a download from the peer or an upload to it runs with no rate
 * limit of ours under the move's rate.
 */
export function startCarrierMover(r: Running, o: PeerNodeOptions, logger: CreateLogger): void {
  if (o.connect?.moveToUdx === false) return
  const limited = (limit: number) => limit > 0 && limit < SLOW_BYTES_PER_SECOND
  r.mover = new CarrierMover({
    registry: r.registry,
    transport: r.transport,
    log: logger('connections'),
    bulk: (hex) => {
      if (r.downloads.runsUnlimited(hex, SLOW_BYTES_PER_SECOND)) return true
      const { uploadBytesPerSecond, uploadBytesPerSecondPerPeer } = r.server.limits
      if (limited(uploadBytesPerSecond) || limited(uploadBytesPerSecondPerPeer)) return false
      return r.server.uploads().some((u) => u.peer === hex && u.state === 'active')
    },
  })
  r.mover.start()
}

function connectOptions(o: PeerNodeOptions) {
  const c = o.connect ?? {}
  return {
    ...(c.directTimeoutMs !== undefined ? { directTimeoutMs: c.directTimeoutMs } : {}),
    ...(c.acceptWaitMs !== undefined ? { acceptWaitMs: c.acceptWaitMs } : {}),
    ...(c.backoffMs !== undefined ? { backoffMs: c.backoffMs } : {}),
    ...(c.upgradeBackoffMs !== undefined ? { upgradeBackoffMs: c.upgradeBackoffMs } : {}),
    ...(c.punchTimeoutMs !== undefined ? { punchOptions: { timeoutMs: c.punchTimeoutMs } } : {}),
  }
}
