import type NoiseSecretStream from '@hyperswarm/secret-stream'
import type { HelloRefusal, PeerConnection } from './connection'
import type { Identity } from './identity'
import type { Carrier, Logger, SocketAddress, TransportOptions } from './types'
import type { UdxEndpoint } from './udx-endpoint'

/** What dialling and accepting need from the transport that runs them. */
export interface HandshakeContext {
  readonly identity: Identity
  readonly options: TransportOptions
  readonly log: Logger
  newConnection(
    noise: NoiseSecretStream,
    initiator: boolean,
    carrier: Carrier,
    remoteAddress: SocketAddress,
    endpoint?: UdxEndpoint,
  ): PeerConnection
  /**
   * A lane's hello arrived on `lane` (a connection whose Noise handshake just finished): take it
   * as the bulk lane of the connection it names, or say why not (docs/transport.md §3.2).
   */
  adoptLane(lane: PeerConnection, hello: Uint8Array, carrier: Carrier): HelloRefusal | undefined
  /** Lists a connection that passed the hello among the transport's connections. */
  register(connection: PeerConnection): void
  /** Keeps `work` in the set that `stop()` waits for. */
  track<T>(work: Promise<T>): Promise<T>
  /**
   * The caller's signal, the transport's shutdown, and the handshake timeout (`TIMEOUT`);
   * undefined when the transport is not running. Call `done()` when the handshake ends.
   */
  handshakeSignal(caller?: AbortSignal): { signal: AbortSignal; done: () => void } | undefined
  /** Announces an accepted connection (the transport's `connection` event). */
  announce(connection: PeerConnection): void
}

export function abortable<T>(promise: Promise<T>, signal: AbortSignal): Promise<T> {
  if (signal.aborted) return Promise.reject(signal.reason)
  return new Promise((resolve, reject) => {
    const onAbort = () => reject(signal.reason)
    signal.addEventListener('abort', onAbort, { once: true })
    promise.then(
      (value) => {
        signal.removeEventListener('abort', onAbort)
        resolve(value)
      },
      (err) => {
        signal.removeEventListener('abort', onAbort)
        reject(err)
      },
    )
  })
}

/** A key's first 6 bytes in hex, for messages. */
export function short(key: Uint8Array): string {
  return Buffer.from(key).toString('hex').slice(0, 12)
}
