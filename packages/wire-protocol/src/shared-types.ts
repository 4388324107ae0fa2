/**
 * The structural types the layer-1 packages (index-store, transport, holepunch, discovery) and
 * peer-node share. They live here, on the lowest layer, so that each idea has one declaration and
 * one name; the packages re-export the ones their README API uses. Types only: this module emits
 * no code, and the layer test checks that no other package declares these names.
 */

/** The last parameter of every async call (style rule H13). */
export interface AbortOptions {
  signal?: AbortSignal
}

/** A UDP/TCP endpoint: an IP literal (or host name) and a port. */
export interface SocketAddress {
  host: string
  port: number
}

/**
 * An ed25519 key pair in libsodium's layout. The public key is the peer's id.
 * `secretKey` is seed(32) ‖ publicKey(32); sign with `secretKey.subarray(0, 32)`.
 */
export interface Identity {
  readonly publicKey: Uint8Array
  readonly secretKey: Uint8Array
}

/**
 * A bound UDP socket that can send and receive raw datagrams. Transport provides these (over
 * UDX); holepunch sends STUN and punch packets through them and never opens sockets itself.
 */
export interface DatagramSocket {
  /** Local port it is bound to. */
  readonly port: number
  /** Send one datagram. `ttl` sets the IP TTL for this packet only (the low-TTL punching trick). */
  send(data: Uint8Array, port: number, host: string, options?: { ttl?: number }): Promise<void>
  /** Listen for raw datagrams that are not transport traffic; returns an unsubscribe function. */
  onMessage(listener: (data: Uint8Array, from: SocketAddress) => void): () => void
  close(): Promise<void>
}

/**
 * One component's log (style rule H19): call it for normal lines; `.error` and `.trace` are the
 * `:error` and `:trace` sub-namespaces. A `debug` instance with those two children fits.
 */
export interface Logger {
  (formatter: string, ...args: unknown[]): void
  error(formatter: string, ...args: unknown[]): void
  trace(formatter: string, ...args: unknown[]): void
}

/**
 * The `logger` option of every package: returns the logger of one named component (`'mqtt'`,
 * `'udx'`, `'puncher'`). Each package's default is `debug('hdp:<package>:<component>')`.
 */
export type CreateLogger = (component: string) => Logger
