import type { EventEmitter } from 'node:events'
import type { Server, Socket } from 'node:net'
import {
  createHelloProof,
  equalBytes,
  type TopicKeys,
  verifyHelloProof,
} from '@harddrive-party/wire-protocol'
import type NoiseSecretStream from '@hyperswarm/secret-stream'
import { TypedEventEmitter } from 'main-event'
import UDX from 'udx-native'
import { Admission, type HalfOpenTicket } from './admission'
import { type HelloRefusal, PeerConnection } from './connection'
import { isTransportError, TransportError, type TransportErrorCode } from './errors'
import { decodeHelloPayload, encodeHelloPayload } from './hello'
import type { Identity } from './identity'
import { defaultLogger } from './logger'
import { CloseCode } from './mux-frame'
import { secureCarrier } from './noise'
import { MAX_STREAMS_PER_SIDE } from './session'
import { connectTcp, listenTcp } from './tcp-carrier'
import type {
  AbortOptions,
  Address,
  Carrier,
  ComponentLogger,
  Connection,
  DatagramSocket,
  DialOptions,
  Transport,
  TransportEvents,
  TransportOptions,
} from './types'
import { type DatagramListener, type EndpointContext, UdxEndpoint } from './udx-endpoint'

const DEFAULTS = {
  host: '0.0.0.0',
  keepAliveMs: 5000,
  idleTimeoutMs: 20_000,
  handshakeTimeoutMs: 10_000,
  // A whole side's worth: a burst of opens arrives in one message, before any loop takes one.
  streamBacklog: MAX_STREAMS_PER_SIDE,
}
/** Tries of a random port (when port 0 was asked) until UDP and TCP are both free on it. */
const BIND_TRIES = 8

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
  readonly #logger: (component: string) => ComponentLogger
  readonly #log: ComponentLogger
  /** Listeners of the main socket outlive restarts, so `transport.socket` is stable. */
  readonly #mainListeners = new Set<DatagramListener>()
  readonly #connections = new Set<PeerConnection>()
  readonly #inflight = new Set<Promise<unknown>>()
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
    this.socket = this.#mainSocketFacade()
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

  address(): Address & { tcp: boolean } {
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
    const endpoint = new UdxEndpoint(socket, this.#endpointContext(running), { main: false })
    running.extra.add(endpoint)
    socket.on('close', () => running.extra.delete(endpoint))
    return endpoint
  }

  // ---- dialling ----

  async dial(address: Address, expectedKey: Uint8Array, options: DialOptions): Promise<Connection> {
    options.signal?.throwIfAborted()
    if (expectedKey.length !== 32) throw new TypeError('expectedKey must be a 32-byte public key')
    const running = this.#require()
    const endpoint =
      options.socket === undefined ? running.main : this.#endpointOf(running, options.socket)
    const tcp = (this.#options.tcp ?? true) && options.socket === undefined
    const carriers = options.carriers ?? (tcp ? ['udx', 'tcp'] : ['udx'])
    const timeoutMs = this.#options.handshakeTimeoutMs ?? DEFAULTS.handshakeTimeoutMs
    const { signal, done } = this.#dialSignal(running, options.signal, timeoutMs)
    const work = (async () => {
      try {
        const connection = await this.#race(
          carriers,
          (carrier, attemptSignal) =>
            this.#attempt(carrier, endpoint, address, expectedKey, attemptSignal),
          signal,
        )
        try {
          await this.#dialerHello(connection, options.topic, signal)
        } catch (err) {
          connection.destroy(err instanceof Error ? err : undefined)
          throw err
        }
        this.#register(connection)
        return connection
      } finally {
        done()
      }
    })()
    return this.#track(work)
  }

  /** One carrier's attempt: transport-level connect, Noise, and the key check. */
  async #attempt(
    carrier: Carrier,
    endpoint: UdxEndpoint,
    address: Address,
    expectedKey: Uint8Array,
    signal: AbortSignal,
  ): Promise<PeerConnection> {
    let raw: EventEmitter
    let remoteAddress: Address
    if (carrier === 'udx') {
      const { stream, from } = await endpoint.connect(address.host, address.port, signal)
      raw = stream
      remoteAddress = from
    } else {
      raw = await connectTcp(address.host, address.port, signal)
      remoteAddress = { host: address.host, port: address.port }
    }
    const noise = await secureCarrier(raw, true, this.#identity, signal).catch((err) => {
      ;(raw as Socket).destroy()
      throw err
    })
    if (!equalBytes(noise.remotePublicKey!, expectedKey)) {
      noise.destroy()
      throw new TransportError(
        'PEER_KEY_MISMATCH',
        `${address.host}:${address.port} (${carrier}) proved key ${short(noise.remotePublicKey!)}, expected ${short(expectedKey)}`,
      )
    }
    return this.#newConnection(noise, true, carrier, remoteAddress)
  }

  /** Resolves with the first attempt that succeeds; the others are cancelled. */
  async #race(
    carriers: readonly Carrier[],
    run: (carrier: Carrier, signal: AbortSignal) => Promise<PeerConnection>,
    signal: AbortSignal,
  ): Promise<PeerConnection> {
    if (carriers.length === 0) throw new TypeError('no carrier to dial with')
    const controllers = carriers.map(() => new AbortController())
    const onAbort = () => {
      for (const c of controllers) c.abort(signal.reason)
    }
    signal.addEventListener('abort', onAbort, { once: true })
    let winner: PeerConnection | undefined
    const errors: unknown[] = []
    try {
      await new Promise<void>((resolve, reject) => {
        let pending = carriers.length
        carriers.forEach((carrier, i) => {
          run(carrier, controllers[i]!.signal).then(
            (connection) => {
              if (winner !== undefined || signal.aborted) {
                connection.destroy()
                return
              }
              winner = connection
              controllers.forEach((c, j) => {
                if (j !== i) c.abort(new TransportError('CLOSED', `${carrier} won the race`))
              })
              resolve()
            },
            (err) => {
              errors.push(err)
              if (--pending === 0 && winner === undefined) reject(mostTelling(errors, signal))
            },
          )
        })
      })
    } finally {
      signal.removeEventListener('abort', onAbort)
    }
    return winner!
  }

  async #dialerHello(connection: PeerConnection, topic: TopicKeys, signal: AbortSignal) {
    const proofInput = {
      dialerKey: this.publicKey,
      acceptorKey: connection.remotePublicKey,
      binding: connection.handshakeHash,
    }
    connection.sendHello(
      encodeHelloPayload(
        createHelloProof(topic, { role: 'dialer', ...proofInput }),
        this.#options.agent,
      ),
    )
    // Checked synchronously in the frame path: streams the acceptor opens right after its
    // hello arrive in the same message and must find the session open (issue 9.4).
    const check = (payload: Uint8Array): HelloRefusal | undefined => {
      const hello = decodeHelloPayload(payload) // throws: refused as BAD_HELLO
      if (
        verifyHelloProof([topic], hello.proof, { role: 'acceptor', ...proofInput }) === undefined
      ) {
        return {
          code: CloseCode.NOT_TOPIC_MEMBER,
          reason: 'bad acceptor proof',
          error: new TransportError('NOT_TOPIC_MEMBER', 'the remote could not prove the topic'),
        }
      }
      connection.markOpen(topic, hello.agent)
      return undefined
    }
    await abortable(connection.receiveHello(check), signal)
  }

  // ---- accepting ----

  #onIncoming(raw: EventEmitter, carrier: Carrier, from: Address, ticket: HalfOpenTicket): void {
    const running = this.#running
    if (running === undefined) {
      ;(raw as Socket).destroy()
      ticket.release()
      return
    }
    const timeoutMs = this.#options.handshakeTimeoutMs ?? DEFAULTS.handshakeTimeoutMs
    const { signal, done } = this.#dialSignal(running, undefined, timeoutMs)
    const work = this.#accept(raw, carrier, from, signal)
      .catch((err) => {
        this.#log(
          'handshake from %s:%d (%s) failed: %s',
          from.host,
          from.port,
          carrier,
          (err as Error).message,
        )
      })
      .finally(() => {
        ticket.release()
        done()
      })
    void this.#track(work)
  }

  async #accept(raw: EventEmitter, carrier: Carrier, from: Address, signal: AbortSignal) {
    let noise: NoiseSecretStream
    try {
      noise = await secureCarrier(raw, false, this.#identity, signal)
    } catch (err) {
      ;(raw as Socket).destroy()
      throw err
    }
    const connection = this.#newConnection(noise, false, carrier, from)
    try {
      const remoteKey = connection.remotePublicKey
      const firewall = this.#options.firewall
      if (firewall !== undefined && (await firewall(remoteKey, { ...from, carrier }))) {
        const error = new TransportError('REJECTED', `firewall refused ${short(remoteKey)}`)
        await connection.reject(CloseCode.REJECTED, 'refused', error)
        throw error
      }
      const proofInput = {
        dialerKey: remoteKey,
        acceptorKey: this.publicKey,
        binding: connection.handshakeHash,
      }
      const check = (payload: Uint8Array): HelloRefusal | undefined => {
        const hello = decodeHelloPayload(payload) // throws: refused as BAD_HELLO
        const topic = verifyHelloProof(this.#options.topics(), hello.proof, {
          role: 'dialer',
          ...proofInput,
        })
        if (topic === undefined) {
          return {
            code: CloseCode.NOT_TOPIC_MEMBER,
            reason: 'no shared topic',
            error: new TransportError(
              'NOT_TOPIC_MEMBER',
              `${short(remoteKey)} proved no topic of ours`,
            ),
          }
        }
        connection.sendHello(
          encodeHelloPayload(
            createHelloProof(topic, { role: 'acceptor', ...proofInput }),
            this.#options.agent,
          ),
        )
        connection.markOpen(topic, hello.agent)
        return undefined
      }
      await abortable(connection.receiveHello(check), signal)
      this.#register(connection)
      this.safeDispatchEvent('connection', { detail: connection })
    } catch (err) {
      connection.destroy(err instanceof Error ? err : undefined)
      throw err
    }
  }

  #onTcpConnection(socket: Socket): void {
    const running = this.#running
    const host = socket.remoteAddress
    const port = socket.remotePort
    socket.on('error', (err) => this.#log.trace('tcp %s:%d: %s', host, port, err.message))
    if (running === undefined || host === undefined || port === undefined) {
      socket.destroy()
      return
    }
    const from = { host: stripMappedPrefix(host), port }
    if (!running.admission.takeToken(from.host)) {
      this.#log('rate limited tcp handshake from %s:%d', from.host, from.port)
      socket.destroy()
      return
    }
    socket.setNoDelay(true)
    const ticket = running.admission.track(from.host, () => socket.destroy())
    this.#onIncoming(socket, 'tcp', from, ticket)
  }

  // ---- helpers ----

  #newConnection(
    noise: NoiseSecretStream,
    initiator: boolean,
    carrier: Carrier,
    remoteAddress: Address,
  ) {
    return new PeerConnection(noise, {
      initiator,
      carrier,
      remoteAddress,
      keepAliveMs: this.#options.keepAliveMs ?? DEFAULTS.keepAliveMs,
      idleTimeoutMs: this.#options.idleTimeoutMs ?? DEFAULTS.idleTimeoutMs,
      streamBacklog: this.#options.limits?.streamBacklog ?? DEFAULTS.streamBacklog,
      log: this.#logger('session'),
    })
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
      onIncoming: (stream, _endpoint, from, ticket) =>
        this.#onIncoming(stream, 'udx', from, ticket),
    }
  }

  async #bind(): Promise<void> {
    const host = this.#options.host ?? DEFAULTS.host
    const wantTcp = this.#options.tcp ?? true
    const fixedPort = this.#options.port ?? 0
    let lastError: unknown
    for (let attempt = 0; attempt < (fixedPort === 0 ? BIND_TRIES : 1); attempt++) {
      const udx = new UDX()
      const socket = udx.createSocket()
      try {
        socket.bind(fixedPort, host)
      } catch (err) {
        await socket.close()
        throw new TransportError(
          'SOCKET_ERROR',
          `bind udp ${host}:${fixedPort}: ${(err as Error).message}`,
          {
            cause: err,
          },
        )
      }
      const port = socket.address()!.port
      let tcp: Server | undefined
      if (wantTcp) {
        try {
          tcp = await listenTcp(port, host)
        } catch (err) {
          lastError = err
          if (fixedPort === 0) {
            await socket.close()
            continue // someone holds this TCP port: try another random port for both
          }
          this.#log.error(
            'tcp carrier disabled, cannot listen on %s:%d: %s',
            host,
            port,
            (err as Error).message,
          )
        }
      }
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
      tcp?.on('connection', (s: Socket) => this.#onTcpConnection(s))
      this.#running = running
      this.#log('listening on %s:%d (tcp %s)', host, port, tcp === undefined ? 'off' : 'on')
      return
    }
    throw new TransportError('SOCKET_ERROR', `no port free for both udp and tcp on ${host}`, {
      cause: lastError,
    })
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

  /** `transport.socket`: the same object across restarts, bound to whichever main socket is live. */
  #mainSocketFacade(): DatagramSocket {
    const self = this
    return {
      get port() {
        return self.#running?.main.port ?? 0
      },
      send(data, port, host, options) {
        const running = self.#running
        if (running === undefined) {
          return Promise.reject(new TransportError('NOT_STARTED', 'the transport is not started'))
        }
        return running.main.send(data, port, host, options)
      },
      onMessage(listener) {
        self.#mainListeners.add(listener)
        return () => {
          self.#mainListeners.delete(listener)
        }
      },
      close() {
        return Promise.resolve() // the main socket closes with transport.stop()
      },
    }
  }
}

const ERROR_RANK: TransportErrorCode[] = [
  'PEER_KEY_MISMATCH',
  'RATE_LIMITED',
  'HANDSHAKE_FAILED',
  'TIMEOUT',
  'CLOSED',
]

/** Of several failed attempts, the error that tells the caller most. */
function mostTelling(errors: unknown[], signal: AbortSignal): unknown {
  if (signal.aborted) return signal.reason
  for (const code of ERROR_RANK) {
    const found = errors.find((e) => isTransportError(e) && e.code === code)
    if (found !== undefined) return found
  }
  return errors[0]
}

function abortable<T>(promise: Promise<T>, signal: AbortSignal): Promise<T> {
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

function short(key: Uint8Array): string {
  return Buffer.from(key).toString('hex').slice(0, 12)
}

function stripMappedPrefix(host: string): string {
  return host.startsWith('::ffff:') ? host.slice(7) : host
}
