import type { Server, Socket } from 'node:net'
import type { Duplex } from 'node:stream'
import type NoiseSecretStream from '@hyperswarm/secret-stream'
import { TypedEventEmitter } from 'main-event'
import type UDX from 'udx-native'
import { acceptIncoming, acceptTcpSocket } from './accept'
import { Admission } from './admission'
import { bindSockets } from './bind-sockets'
import { PeerConnection } from './connection'
import { dialPeer } from './dial'
import { TransportError } from './errors'
import type { HandshakeContext } from './handshake'
import type { Identity } from './identity'
import { defaultLogger } from './logger'
import { mainSocketFacade } from './main-socket'
import { MAX_STREAMS_PER_SIDE } from './mux'
import { CloseCode } from './mux-frame'
import { enlargeReceiveBuffer } from './receive-buffer'
import { acceptThroughCarrier, dialThroughCarrier } from './through'
import type {
  AbortOptions,
  Carrier,
  Connection,
  CreateLogger,
  DatagramSocket,
  DialOptions,
  DialThroughOptions,
  Logger,
  SocketAddress,
  ThroughOptions,
  Transport,
  TransportEvents,
  TransportOptions,
} from './types'
import { type DatagramListener, type EndpointContext, UdxEndpoint } from './udx-endpoint'
import { adoptLane } from './udx-lane'

const DEFAULTS = {
  host: '0.0.0.0',
  keepAliveMs: 5000,
  idleTimeoutMs: 20_000,
  handshakeTimeoutMs: 10_000,
  // A whole side's worth: a burst of opens arrives in one message, before any loop takes one.
  streamBacklog: MAX_STREAMS_PER_SIDE,
}

/** Creates a transport; nothing is bound until `start()`. */
export function createTransport(options: TransportOptions): Transport {
  return new UdxTransport(options)
}

interface Running {
  udx: UDX
  main: UdxEndpoint
  extra: Set<UdxEndpoint>
  tcp: Server | undefined
  admission: Admission
  streamIds: Set<number>
  shutdown: AbortController
}

/**
 * The UDX + secret-stream transport: one UDX socket carries raw datagrams (STUN, punching)
 * and every connection's stream; a TCP listener on the same port number is a second carrier.
 * Each connection is Noise XX (ed25519), checked against the key we dialled for, then a
 * hello with proof of topic membership, then multiplexed streams.
 */
class UdxTransport extends TypedEventEmitter<TransportEvents> implements Transport {
  readonly publicKey: Uint8Array
  readonly socket: DatagramSocket
  readonly #options: TransportOptions
  readonly #identity: Identity
  readonly #logger: CreateLogger
  readonly #log: Logger
  /** Listeners of the main socket outlive restarts, so `transport.socket` is stable. */
  readonly #mainListeners = new Set<DatagramListener>()
  readonly #connections = new Set<PeerConnection>()
  readonly #inflight = new Set<Promise<unknown>>()
  readonly #handshake: HandshakeContext
  #running: Running | undefined
  #starting: Promise<void> | undefined
  #stopping: Promise<void> | undefined

  constructor(options: TransportOptions) {
    super()
    if (options.identity.publicKey.length !== 32 || options.identity.secretKey.length !== 64) {
      throw new TypeError('identity must be an ed25519 key pair (32-byte public, 64-byte secret)')
    }
    this.#options = options
    this.#identity = options.identity
    this.publicKey = options.identity.publicKey
    this.#logger = options.logger ?? defaultLogger
    this.#log = this.#logger('transport')
    this.socket = mainSocketFacade(() => this.#running?.main, this.#mainListeners)
    this.#handshake = this.#handshakeContext()
  }

  // ---- lifecycle ----

  async start(options: AbortOptions = {}): Promise<void> {
    options.signal?.throwIfAborted()
    if (this.#stopping !== undefined) await this.#stopping
    if (this.#running !== undefined) return
    this.#starting ??= this.#bind().finally(() => {
      this.#starting = undefined
    })
    return this.#starting
  }

  async stop(options: AbortOptions = {}): Promise<void> {
    if (this.#starting !== undefined) await this.#starting.catch(() => {})
    if (this.#running === undefined) return this.#stopping
    this.#stopping ??= this.#unbind(this.#running, options.signal).finally(() => {
      this.#stopping = undefined
    })
    return this.#stopping
  }

  async [Symbol.asyncDispose](): Promise<void> {
    await this.stop()
  }

  address(): SocketAddress & { tcp: boolean } {
    const running = this.#running
    if (running === undefined)
      return { host: this.#options.host ?? DEFAULTS.host, port: 0, tcp: false }
    return { host: running.main.host, port: running.main.port, tcp: running.tcp !== undefined }
  }

  connections(): Connection[] {
    return [...this.#connections]
  }

  async createSocket(
    options: { port?: number; host?: string; signal?: AbortSignal } = {},
  ): Promise<DatagramSocket> {
    options.signal?.throwIfAborted()
    const running = this.#require()
    const socket = running.udx.createSocket()
    try {
      socket.bind(options.port ?? 0, options.host ?? this.#options.host ?? DEFAULTS.host)
    } catch (err) {
      await socket.close()
      throw new TransportError(
        'SOCKET_ERROR',
        `bind udp ${options.port ?? 0}: ${(err as Error).message}`,
        {
          cause: err,
        },
      )
    }
    enlargeReceiveBuffer(socket, this.#log)
    const endpoint = new UdxEndpoint(socket, this.#endpointContext(running), { main: false })
    running.extra.add(endpoint)
    socket.on('close', () => running.extra.delete(endpoint))
    return endpoint
  }

  // ---- dialling ----

  async dial(
    address: SocketAddress,
    expectedKey: Uint8Array,
    options: DialOptions,
  ): Promise<Connection> {
    options.signal?.throwIfAborted()
    if (expectedKey.length !== 32) throw new TypeError('expectedKey must be a 32-byte public key')
    const running = this.#require()
    const endpoint =
      options.socket === undefined ? running.main : this.#endpointOf(running, options.socket)
    const tcp = (this.#options.tcp ?? true) && options.socket === undefined
    const carriers = options.carriers ?? (tcp ? ['udx', 'tcp'] : ['udx'])
    const timeoutMs = this.#options.handshakeTimeoutMs ?? DEFAULTS.handshakeTimeoutMs
    const { signal, done } = this.#dialSignal(running, options.signal, timeoutMs)
    const request = { endpoint, address, expectedKey, carriers, topic: options.topic, signal }
    return this.#track(dialPeer(this.#handshake, request).finally(done))
  }

  async dialThrough(
    carrier: Duplex,
    expectedKey: Uint8Array,
    options: DialThroughOptions,
  ): Promise<Connection> {
    options.signal?.throwIfAborted()
    if (expectedKey.length !== 32) throw new TypeError('expectedKey must be a 32-byte public key')
    this.#require()
    const request = {
      carrier,
      expectedKey,
      topic: options.topic,
      remoteAddress: options.remoteAddress,
      signal: options.signal,
    }
    return this.#track(dialThroughCarrier(this.#handshake, request))
  }

  async acceptThrough(carrier: Duplex, options: ThroughOptions = {}): Promise<Connection> {
    options.signal?.throwIfAborted()
    this.#require()
    const request = { carrier, remoteAddress: options.remoteAddress, signal: options.signal }
    return this.#track(acceptThroughCarrier(this.#handshake, request))
  }

  // ---- helpers ----

  #newConnection(
    noise: NoiseSecretStream,
    initiator: boolean,
    carrier: Carrier,
    remoteAddress: SocketAddress,
    endpoint?: UdxEndpoint,
  ): PeerConnection {
    const running = this.#running
    const lane =
      endpoint === undefined || running === undefined
        ? undefined
        : {
            endpoint,
            identity: this.#identity,
            remoteAddress,
            shutdown: running.shutdown.signal,
            newLane: (laneNoise: NoiseSecretStream, from: SocketAddress) =>
              this.#newConnection(laneNoise, true, 'udx', from),
          }
    return new PeerConnection(noise, {
      ...(lane !== undefined && { lane }),
      initiator,
      carrier,
      remoteAddress,
      keepAliveMs: this.#options.keepAliveMs ?? DEFAULTS.keepAliveMs,
      idleTimeoutMs: this.#options.idleTimeoutMs ?? DEFAULTS.idleTimeoutMs,
      streamBacklog: this.#options.limits?.streamBacklog ?? DEFAULTS.streamBacklog,
      log: this.#logger('session'),
    })
  }

  #handshakeContext(): HandshakeContext {
    return {
      identity: this.#identity,
      options: this.#options,
      log: this.#log,
      newConnection: (noise, initiator, carrier, remoteAddress, endpoint) =>
        this.#newConnection(noise, initiator, carrier, remoteAddress, endpoint),
      adoptLane: (lane, hello, carrier) => adoptLane(this.#connections, lane, hello, carrier),
      register: (connection) => this.#register(connection),
      track: (work) => this.#track(work),
      handshakeSignal: (caller) => {
        const running = this.#running
        if (running === undefined) return undefined
        const timeoutMs = this.#options.handshakeTimeoutMs ?? DEFAULTS.handshakeTimeoutMs
        return this.#dialSignal(running, caller, timeoutMs)
      },
      announce: (connection) => this.safeDispatchEvent('connection', { detail: connection }),
    }
  }

  #register(connection: PeerConnection): void {
    if (connection.closeReason !== undefined) return
    this.#connections.add(connection)
    connection.addEventListener('close', () => this.#connections.delete(connection), { once: true })
  }

  #track<T>(work: Promise<T>): Promise<T> {
    this.#inflight.add(work)
    const forget = () => this.#inflight.delete(work)
    work.then(forget, forget)
    return work
  }

  /** The caller's signal, the transport's shutdown, and a timeout that fails with `TIMEOUT`. */
  #dialSignal(running: Running, caller: AbortSignal | undefined, timeoutMs: number) {
    const timeout = new AbortController()
    const timer = setTimeout(
      () => timeout.abort(new TransportError('TIMEOUT', `no handshake within ${timeoutMs} ms`)),
      timeoutMs,
    )
    const signals = [running.shutdown.signal, timeout.signal]
    if (caller !== undefined) signals.push(caller)
    return { signal: AbortSignal.any(signals), done: () => clearTimeout(timer) }
  }

  #require(): Running {
    if (this.#running === undefined || this.#stopping !== undefined) {
      throw new TransportError('NOT_STARTED', 'the transport is not started')
    }
    return this.#running
  }

  #endpointOf(running: Running, socket: DatagramSocket): UdxEndpoint {
    if (socket === this.socket) return running.main
    for (const endpoint of running.extra) if (endpoint === socket) return endpoint
    throw new TypeError(
      'dial options.socket must be transport.socket or made by transport.createSocket()',
    )
  }

  #endpointContext(running: Running): EndpointContext {
    return {
      udx: running.udx,
      admission: running.admission,
      log: this.#logger('udx'),
      allocateStreamId: () => {
        const ids = running.streamIds
        for (;;) {
          // Random ids make blind injection into a UDX stream a 1-in-2^32 guess.
          const id = crypto.getRandomValues(new Uint32Array(1))[0]!
          if (id !== 0 && !ids.has(id)) {
            ids.add(id)
            return id
          }
        }
      },
      releaseStreamId: (id) => running.streamIds.delete(id),
      onIncoming: (stream, endpoint, from, ticket) =>
        acceptIncoming(this.#handshake, stream, 'udx', from, ticket, endpoint),
    }
  }

  async #bind(): Promise<void> {
    const host = this.#options.host ?? DEFAULTS.host
    const { udx, socket, tcp } = await bindSockets({
      host,
      port: this.#options.port ?? 0,
      wantTcp: this.#options.tcp ?? true,
      log: this.#log,
    })
    const running: Running = {
      udx,
      main: undefined as unknown as UdxEndpoint,
      extra: new Set(),
      tcp,
      admission: new Admission(this.#options.limits),
      streamIds: new Set(),
      shutdown: new AbortController(),
    }
    running.main = new UdxEndpoint(socket, this.#endpointContext(running), {
      main: true,
      listeners: this.#mainListeners,
    })
    tcp?.on('connection', (s: Socket) =>
      acceptTcpSocket(this.#handshake, this.#running?.admission, s),
    )
    this.#running = running
    const port = socket.address()!.port
    this.#log('listening on %s:%d (tcp %s)', host, port, tcp === undefined ? 'off' : 'on')
  }

  async #unbind(running: Running, signal: AbortSignal | undefined): Promise<void> {
    running.shutdown.abort(new TransportError('CLOSED', 'transport stopped'))
    const connections = [...this.#connections]
    if (signal?.aborted) {
      for (const c of connections) c.destroy()
    } else {
      const onAbort = () => {
        for (const c of connections) c.destroy()
      }
      signal?.addEventListener('abort', onAbort, { once: true })
      await Promise.allSettled(
        connections.map((c) =>
          c.reject(
            CloseCode.SHUTDOWN,
            'shutting down',
            new TransportError('CLOSED', 'transport stopped'),
          ),
        ),
      )
      signal?.removeEventListener('abort', onAbort)
    }
    await Promise.allSettled([...this.#inflight])
    await Promise.allSettled([...running.extra].map((e) => e.shutdown()))
    await running.main.shutdown()
    if (running.tcp !== undefined) {
      const server = running.tcp
      await new Promise<void>((resolve) => server.close(() => resolve()))
    }
    this.#running = undefined
    this.#log('stopped')
  }
}
