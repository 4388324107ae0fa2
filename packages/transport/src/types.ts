import type { Duplex } from 'node:stream'
import type {
  AbortOptions,
  CreateLogger,
  DatagramSocket,
  Identity,
  Logger,
  ProtocolVersion,
  SocketAddress,
  TopicKeys,
} from '@harddrive-party/wire-protocol'
import type { TypedEventTarget } from 'main-event'

// The shared structural types have one home, wire-protocol; these modules import them from here.
export type { AbortOptions, CreateLogger, DatagramSocket, Logger, SocketAddress }

/**
 * How a connection's bytes travel: UDX or TCP to the remote, or `relay`: inside a byte stream
 * someone else carries ({@link Transport.dialThrough}).
 */
export type Carrier = 'udx' | 'tcp' | 'relay'

/**
 * One byte stream of a connection. Read it with `for await`; write with `await write()`,
 * which waits while too much is queued (the remote reads slowly), then `end()`.
 */
export interface TransportStream extends AsyncIterable<Uint8Array> {
  /** Stream id on its connection (odd: opened by the dialer, even: by the acceptor). */
  readonly id: number
  /**
   * Queues `chunk` (do not modify it afterwards); resolves when the stream can take more.
   * Aborting `signal` while it waits aborts the whole stream.
   */
  write(chunk: Uint8Array, options?: StreamWriteOptions): Promise<void>
  /** Half-close: resolves once every queued byte and the end marker are sent. */
  end(options?: AbortOptions): Promise<void>
  /**
   * Aborts both directions at once. Local reads and writes fail with `reason` (default a
   * `RESET` error); the remote's fail with `RESET`.
   * (Leaving a `for await` loop early only stops reading: the remote's writes then fail with
   * `RESET`, while this side can still write its answer.)
   */
  abort(reason?: unknown): void
  /** Resolves when the stream is finished both ways, or aborted. */
  readonly closed: Promise<void>
}

export interface StreamWriteOptions extends AbortOptions {
  /**
   * Resolve only once the stream holds no reference to `chunk` (its bytes were copied into an
   * outgoing message), so the caller may fill the same memory again; rejects like any write
   * when the stream fails (then the chunk is dropped). Reusing buffers spares a fresh
   * allocation per chunk, whose page faults cost more than the copy.
   */
  untilCopied?: boolean
}

/** Options of {@link Connection.openStream}. */
export interface OpenStreamOptions extends AbortOptions {
  /**
   * A big transfer: on a UDX connection to a peer of protocol 1.2 or newer the stream goes on
   * the connection's bulk lane, a second UDX stream with a fresh congestion controller, set up
   * at the first bulk stream and closed after a few idle seconds (docs/transport.md §3.2).
   * Elsewhere (TCP, relayed, older peers, or the lane could not be set up) it is an ordinary
   * stream. A bulk stream fails like any cut stream when its lane fails; the connection stays.
   */
  bulk?: boolean
}

export interface ConnectionEvents {
  /** The connection ended; `detail` is why (a `TransportError`: `CLOSED`, `TIMEOUT`, ...). */
  close: CustomEvent<Error>
}

export interface ConnectionStats {
  carrier: Carrier
  /** Smoothed round-trip time from pings, in ms (0 before the first answer). */
  rttMs: number
  /** Encrypted bytes written to / read from the carrier. */
  bytesSent: number
  bytesReceived: number
  openStreams: number
  /**
   * The largest receive window any stream of this connection granted (256 KiB until one grew).
   * A bulk stream's window should reach the path's bandwidth-delay product.
   */
  largestWindowBytes: number
  /** UDX carrier only: congestion window (packets), retransmitted packets, UDX's own RTT (ms). */
  udx?: {
    cwnd: number
    retransmits: number
    rttMs: number
    inflight: number
    /** The UDP socket's receive buffer as the kernel reports it (Linux: twice the grant). */
    receiveBufferBytes: number
    /**
     * The system granted less receive buffer than the transport asks for (4 MiB; on Linux
     * `net.core.rmem_max` caps it): fast links may then drop packets in our own socket.
     */
    receiveBufferCapped: boolean
  }
  /** Once a bulk lane was opened: how many so far, and the open one's own figures. */
  bulkLane?: { opened: number; current: ConnectionStats | undefined }
}

/** An authenticated connection to one peer that proved membership of a topic we share. */
export interface Connection extends TypedEventTarget<ConnectionEvents> {
  /** The remote's ed25519 public key (its peer id), proven in the Noise handshake. */
  readonly remotePublicKey: Uint8Array
  /** The topic both sides proved membership of. */
  readonly topic: TopicKeys
  /** True on the side that dialled. */
  readonly initiator: boolean
  readonly carrier: Carrier
  /** The remote's address as seen from here (for UDX: the mapping our packets go to). */
  readonly remoteAddress: SocketAddress
  /** The remote's software name from its hello, when it sent one. */
  readonly remoteAgent: string | undefined
  /**
   * The protocol version from the remote's hello: a request kind newer than 1.0 (such as
   * `read-many` in 1.1) is sent only when its minor version has it.
   */
  readonly remoteVersion: ProtocolVersion
  /** Noise handshake hash: unique to this session. */
  readonly handshakeHash: Uint8Array
  /** Undefined while open; the reason once closed. */
  readonly closeReason: Error | undefined
  /**
   * Opens a stream; waits (abortably) while this side already has the maximum open.
   * `bulk`: a big transfer, see {@link OpenStreamOptions}.
   */
  openStream(options?: OpenStreamOptions): Promise<TransportStream>
  /**
   * Streams the remote opens, in order. Streams that nobody takes are buffered up to a
   * small backlog; beyond it the remote's new streams are refused (`STREAM_REFUSED`).
   */
  incomingStreams(options?: AbortOptions): AsyncIterable<TransportStream>
  stats(): ConnectionStats
  /** Tells the remote we are closing, then closes; open streams fail with `CLOSED`. */
  close(options?: AbortOptions): Promise<void>
  /** Closes at once; open streams fail with `error` (default `CLOSED`). */
  destroy(error?: Error): void
}

export interface DialOptions extends AbortOptions {
  /** The topic we prove membership of, and require the remote to prove. */
  topic: TopicKeys
  /** Dial over UDX from this socket (e.g. the one that won a hole punch) instead of the main one. */
  socket?: DatagramSocket
  /**
   * Carriers to race; the first to finish the Noise handshake with the right key wins.
   * Default: `['udx', 'tcp']`, or `['udx']` when `socket` is given.
   */
  carriers?: readonly Carrier[]
}

/** Options of {@link Transport.dialThrough} and {@link Transport.acceptThrough}. */
export interface ThroughOptions extends AbortOptions {
  /**
   * What `connection.remoteAddress` reports (e.g. the relay's address). Default
   * `0.0.0.0:0`: a relayed remote has no address of its own to dial.
   */
  remoteAddress?: SocketAddress
}

export interface DialThroughOptions extends ThroughOptions {
  /** The topic we prove membership of, and require the remote to prove. */
  topic: TopicKeys
}

export interface TransportEvents {
  /** A remote dialled us, passed the firewall and proved a topic: a new connection. */
  connection: CustomEvent<Connection>
}

export interface TransportOptions {
  identity: Identity
  /** Topics whose members may connect to us; read at every incoming hello. */
  topics: () => Iterable<TopicKeys>
  /** UDP (and TCP) port to bind. Default 0 (any free port); apps persist a stable one. */
  port?: number
  /** Address to bind. Default `'0.0.0.0'`. */
  host?: string
  /**
   * Called when a remote proved its key, before its hello: return `true` to refuse it
   * (the dialer gets `REJECTED`). Same polarity as hyperswarm's firewall. Default: allow all.
   */
  firewall?: (
    remotePublicKey: Uint8Array,
    address: SocketAddress & { carrier: Carrier },
  ) => boolean | Promise<boolean>
  /** Also listen on TCP on the same port number, as a faster second carrier. Default true. */
  tcp?: boolean
  /** Send a ping when nothing was sent for this long. Default 5000. */
  keepAliveMs?: number
  /** Close a connection that received nothing for this long (`TIMEOUT`). Default 20000. */
  idleTimeoutMs?: number
  /** Give up a dial or an incoming handshake after this long (`TIMEOUT`). Default 10000. */
  handshakeTimeoutMs?: number
  /** Handshake admission limits (per source IP and overall). */
  limits?: Partial<TransportLimits>
  /** Software name sent in our hello. */
  agent?: string
  /** Logger of each component; default `debug('hdp:transport:<component>')`. */
  logger?: CreateLogger
}

export interface TransportLimits {
  /** Handshake attempts a source IP may start in a burst. Default 32. */
  handshakeBurst: number
  /** Sustained handshake attempts per second per source IP. Default 8. */
  handshakesPerSecond: number
  /** Handshakes in progress at once. Default 256. */
  maxHalfOpen: number
  /** Handshakes in progress from one source IP. Default 16. */
  maxHalfOpenPerHost: number
  /**
   * Streams of a connection not yet taken from `incomingStreams()`; more are refused. Default
   * 256 (all a side may open): with each holding at most its 256 KiB starting window, an
   * application that never reads holds at most 64 MiB per connection.
   */
  streamBacklog: number
}

/** The transport interface that peer-node composes (see the compliance suite in `./testing`). */
export interface Transport extends TypedEventTarget<TransportEvents> {
  readonly publicKey: Uint8Array
  /** The main socket, for STUN and punching datagrams on the transport's own port. */
  readonly socket: DatagramSocket
  start(options?: AbortOptions): Promise<void>
  stop(options?: AbortOptions): Promise<void>
  /** The bound address; `tcp` tells whether the TCP carrier listens on the same port. */
  address(): SocketAddress & { tcp: boolean }
  /** Another socket on the same UDX instance (birthday punching); it accepts connections too. */
  createSocket(options?: {
    port?: number
    host?: string
    signal?: AbortSignal
  }): Promise<DatagramSocket>
  dial(address: SocketAddress, expectedKey: Uint8Array, options: DialOptions): Promise<Connection>
  /**
   * Dials `expectedKey` over `carrier`, a byte stream someone else carries (a relay's stream,
   * see {@link duplexFromStream}): the same Noise handshake, key check, hellos and
   * multiplexer as `dial`, so the carrier sees ciphertext only. Carrier `'relay'`.
   */
  dialThrough(
    carrier: Duplex,
    expectedKey: Uint8Array,
    options: DialThroughOptions,
  ): Promise<Connection>
  /**
   * The acceptor's side of `dialThrough`: firewall and topic proof as for a dial to us. The
   * connection is returned, not announced as a `connection` event.
   */
  acceptThrough(carrier: Duplex, options?: ThroughOptions): Promise<Connection>
  /** Connections open now (dialled, accepted, and through a carrier). */
  connections(): Connection[]
  /** `stop()`, for `await using`. */
  [Symbol.asyncDispose](): Promise<void>
}
