/**
 * @packageDocumentation
 * Encrypted, mutually authenticated peer connections for harddrive-party, with many
 * independent streams, over one UDP port (udx-native + Noise via @hyperswarm/secret-stream),
 * and TCP on the same port number as a faster carrier where it is reachable. The same UDP
 * port carries raw datagrams for STUN and hole punching.
 *
 * @example
 * ```ts
 * import { createTransport, loadOrCreateIdentity } from '@harddrive-party/transport'
 * const transport = createTransport({ identity: await loadOrCreateIdentity(dir), topics: () => [topic] })
 * await transport.start()
 * const connection = await transport.dial({ host, port }, peerKey, { topic })
 * const stream = await connection.openStream()
 * await stream.write(request)
 * await stream.end()
 * for await (const chunk of stream) handle(chunk)
 * ```
 */

// What the README example needs from wire-protocol, so installing this package is enough.
export type { TopicKeys } from '@harddrive-party/wire-protocol'
export { deriveTopicKeys } from '@harddrive-party/wire-protocol'
export type { TransportErrorCode } from './errors'
export { hasTransportCode, isTransportError, TransportError } from './errors'
export type { Identity } from './identity'
export { createIdentity, IDENTITY_FILE, loadOrCreateIdentity } from './identity'
export { MAX_STREAMS_PER_SIDE } from './mux'
export type { StreamDuplexOptions } from './stream-duplex'
export { duplexFromStream } from './stream-duplex'
export { createTransport } from './transport'
export type {
  AbortOptions,
  Carrier,
  Connection,
  ConnectionEvents,
  ConnectionStats,
  CreateLogger,
  DatagramSocket,
  DialOptions,
  DialThroughOptions,
  Logger,
  OpenStreamOptions,
  SocketAddress,
  StreamWriteOptions,
  ThroughOptions,
  Transport,
  TransportEvents,
  TransportLimits,
  TransportOptions,
  TransportStream,
} from './types'
