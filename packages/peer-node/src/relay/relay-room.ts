import type { PeerFound } from '@harddrive-party/discovery'
import type { Connection, Transport } from '@harddrive-party/transport'
import type { CreateLogger, Logger, TopicKeys } from '@harddrive-party/wire-protocol'
import type { ConnectionRegistry } from '../connections/connection-registry'
import { describeError, PeerNodeError } from '../errors'
import type { RelayHandlers } from '../serving/request-server'
import { acceptThroughRelay, dialThroughRelay, relayCandidates } from './relay-client'
import { type RelayOptions, RelayService } from './relay-service'

/** Relayed connections being set up at once on the target's side (each is a handshake). */
const MAX_RELAYED_HANDSHAKES = 8

export interface RelayRoomOptions {
  options: RelayOptions | undefined
  transport: Transport
  registry: ConnectionRegistry
  /** Announcements by hex key (to find members that announce `relay: true`). */
  announced: () => ReadonlyMap<string, PeerFound[]>
  logger: CreateLogger
}

/**
 * Everything about the blind relay (protocol §7.5) in one room, so the composition root only
 * wires it: our relay service (when enabled), the request handlers the request server calls,
 * and the connector's way through a relay when no direct technique can work.
 */
export class RelayRoom {
  readonly service: RelayService
  readonly #o: RelayRoomOptions
  readonly #log: Logger
  #handshakes = 0

  constructor(options: RelayRoomOptions) {
    this.#o = options
    this.#log = options.logger('relay')
    this.service = new RelayService(
      options.options ?? {},
      (hex) => options.registry.get(hex),
      this.#log,
    )
  }

  /** For the request server: `relay` (we are the relay) and `relayed` (we are the target). */
  readonly handlers: RelayHandlers = {
    relay: (peer, request, stream, head) => this.service.relay(peer, request, stream, head),
    relayed: async (peer, request, stream, head) => {
      if (this.#handshakes >= MAX_RELAYED_HANDSHAKES) {
        stream.abort(new PeerNodeError('BUSY', 'too many relayed handshakes at once'))
        return
      }
      this.#handshakes++
      let connection: Connection
      try {
        const relay = this.#o.registry.get(peer)
        connection = await acceptThroughRelay(this.#o.transport, stream, head, relay)
      } catch (err) {
        this.#log('relayed connection via %s failed: %s', peer.slice(0, 8), describeError(err))
        return
      } finally {
        this.#handshakes--
      }
      const from = Buffer.from(request.from).toString('hex')
      const proven = Buffer.from(connection.remotePublicKey).toString('hex')
      if (proven !== from) {
        this.#log('relay %s said %s, the connection proved %s', peer.slice(0, 8), from, proven)
      }
      this.#o.registry.add(connection)
      // The stream lives as long as the relayed connection does.
      await new Promise<void>((resolve) => {
        if (connection.closeReason !== undefined) return resolve()
        connection.addEventListener('close', () => resolve(), { once: true })
      })
    },
  }

  /** The connector's last resort: dial `key` through a member that relays. */
  dial(key: Uint8Array, topic: TopicKeys, signal: AbortSignal): Promise<Connection> {
    const hex = Buffer.from(key).toString('hex')
    const relays = relayCandidates(this.#o.registry.all(), this.#o.announced(), hex)
    return dialThroughRelay(this.#o.transport, relays, key, topic, signal)
  }

  stop(): void {
    this.service.stop()
  }
}
