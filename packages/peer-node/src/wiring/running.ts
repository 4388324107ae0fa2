import type { CombinedDiscovery } from '@harddrive-party/discovery'
import type { HolePuncher } from '@harddrive-party/holepunch'
import type { Transport } from '@harddrive-party/transport'
import type { Logger } from '@harddrive-party/wire-protocol'
import type { Announcer } from '../announcer'
import type { CarrierMover } from '../connections/carrier-move'
import type { ConnectionRegistry } from '../connections/connection-registry'
import type { Connector } from '../connections/connector'
import type { PeerBook } from '../connections/peer-book'
import type { DownloadsImpl } from '../downloads/downloads'
import { describeError } from '../errors'
import type { SavedLimits } from '../node-limits'
import type { PortMapper } from '../port-mapping'
import type { RelayRoom } from '../relay/relay-room'
import type { RequestServer } from '../serving/request-server'
import type { Storage } from '../storage/storage-dir'
import type { TurnRelays } from '../turn-relays'

/** What a started node holds; the wiring modules fill it in bring-up order. */
export interface Running {
  storage: Storage
  /** What `setLimits` saved (this run's changes included). */
  limits: SavedLimits
  server: RequestServer
  transport: Transport
  puncher: HolePuncher
  announcer: Announcer
  mapper: PortMapper | undefined
  relay: RelayRoom
  turn: TurnRelays | undefined
  registry: ConnectionRegistry
  connector: Connector
  /** Moves TCP connections that lose to UDX (undefined when `connect.moveToUdx` is false). */
  mover: CarrierMover | undefined
  book: PeerBook
  downloads: DownloadsImpl
  discovery: CombinedDiscovery | undefined
  timer: NodeJS.Timeout | undefined
}

/**
 * Releases whatever a (possibly half-started) node holds, in reverse bring-up order; every step
 * runs even when an earlier one failed, so one stuck layer cannot leak the others.
 */
export async function releaseRunning(r: Partial<Running>, log: Logger): Promise<void> {
  if (r.timer) clearInterval(r.timer)
  const step = async (what: string, work: (() => Promise<unknown>) | undefined) => {
    try {
      await work?.()
    } catch (err) {
      log.error('stop: %s failed: %s', what, describeError(err))
    }
  }
  await step('downloads', r.downloads && (() => r.downloads!.stop()))
  await step('discovery', r.discovery && (() => r.discovery!.stop()))
  await step('connector', r.connector && (() => r.connector!.stop()))
  r.mover?.stop()
  r.relay?.stop()
  await step('serving', r.server && (() => r.server!.stop()))
  await step('peer book', r.book && (() => r.book!.flush()))
  await step('connections', r.registry && (() => r.registry!.closeAll()))
  await step('port mapping', r.mapper && (() => r.mapper!.stop()))
  await step('puncher', r.puncher && (() => r.puncher!.stop()))
  await step('transport', r.transport && (() => r.transport!.stop()))
  // After the transport: UDX streams that went through our TURN bridge still exchange their
  // last packets (the end of a stream is acknowledged) while the transport stops; with the
  // allocation gone first, each waited out libudx's timeouts (13 s per stop in the matrix).
  await step('TURN', r.turn && (() => r.turn!.stop()))
  await step('storage', r.storage && (() => r.storage!.close()))
}
