/**
 * @packageDocumentation
 * A harddrive-party peer. Serving: {@link createRequestServer} answers the `ls`, `read` and
 * `watch` requests of connected peers from the index store, with fair upload slots, limits and
 * rate limits; {@link createPeerClient} asks a connected peer the same.
 *
 * @example
 * ```ts
 * import { createPeerClient, createRequestServer } from '@harddrive-party/peer-node'
 * const server = createRequestServer({ store, limits: { uploadSlots: 3 } })
 * await server.start()
 * transport.addEventListener('connection', ({ detail }) => void server.serve(detail))
 * const peer = createPeerClient(await transport.dial(address, key, { topic }))
 * for await (const entry of peer.ls('')) console.log(entry.path) // its shares
 * ```
 */
export type { PeerNodeErrorCode } from './errors'
export { PeerNodeError } from './errors'
export type { PeerNodeLogger } from './logger'
export type {
  AbortOptions,
  EntryPage,
  ListOptions,
  PeerClientOptions,
  ReadOptions,
  ReadQueuedEvent,
  ReadRange,
  RemoteRead,
  SearchOptions,
} from './remote/peer-client'
export { createPeerClient, PeerClient } from './remote/peer-client'
export type {
  RequestServerOptions,
  RequestServerStats,
  ServingLimits,
} from './serving/request-server'
export {
  createRequestServer,
  DEFAULT_SERVING_LIMITS,
  RequestServer,
} from './serving/request-server'
