import type { Hello, ProtocolVersion, TopicKeys } from '@harddrive-party/wire-protocol'
import type NoiseSecretStream from '@hyperswarm/secret-stream'
import { TypedEventEmitter } from 'main-event'
import type UDX from 'udx-native'
import { TransportError } from './errors'
import { Fifo } from './fifo'
import { Mux } from './mux'
import { CloseCode, type CloseCodeValue, TCP_WINDOW_FLOOR_BYTES } from './mux-frame'
import type { MuxStream } from './mux-stream'
import { receiveBufferStatus } from './receive-buffer'
import type {
  AbortOptions,
  Carrier,
  Connection,
  ConnectionEvents,
  ConnectionStats,
  Logger,
  OpenStreamOptions,
  SocketAddress,
  TransportStream,
} from './types'
import { LANE_WINDOW_FLOOR_BYTES, type LaneDialer, LaneManager } from './udx-lane'
import { UdxSendGate } from './udx-send-gate'

/** Why a hello was refused: the close code the remote sees, and the local error. */
export interface HelloRefusal {
  code: CloseCodeValue
  reason: string
  error: Error
}

/**
 * Checks the remote's hello and, when it is good, opens the connection ({@link
 * PeerConnection.markOpen}) before returning: it runs inside the frame loop, so frames that
 * follow the hello in the same message already see an open multiplexer.
 */
export type HelloCheck = (payload: Uint8Array) => HelloRefusal | undefined

export interface PeerConnectionOptions {
  initiator: boolean
  carrier: Carrier
  remoteAddress: SocketAddress
  keepAliveMs: number
  idleTimeoutMs: number
  streamBacklog: number
  log: Logger
  /** A UDX connection's socket and remote, to dial bulk lanes (docs/transport.md §3.2). */
  lane?: LaneDialer
}

/**
 * A connection as the rest of the system sees it: the multiplexer's streams plus who the remote
 * is. It exists from the end of the Noise handshake; the transport hands it out only after
 * both hellos are verified ({@link PeerConnection.markOpen}).
 */
export class PeerConnection extends TypedEventEmitter<ConnectionEvents> implements Connection {
  readonly remotePublicKey: Uint8Array
  readonly handshakeHash: Uint8Array
  readonly initiator: boolean
  readonly carrier: Carrier
  readonly remoteAddress: SocketAddress
  topic!: TopicKeys
  remoteAgent: string | undefined
  /** Until the hello arrives: 1.0, the version that sends the fewest request kinds. */
  remoteVersion: ProtocolVersion = [1, 0]
  /** This connection's bulk lane (UDX only; see udx-lane.ts). */
  readonly lanes: LaneManager
  readonly #mux: Mux
  #deliver: ((stream: MuxStream) => void) | undefined
  #gate: UdxSendGate | undefined
  readonly #backlog = new Fifo<MuxStream>()
  readonly #backlogLimit: number
  #backlogWaiters: Array<() => void> = []
  #hello: { check: HelloCheck; resolve: () => void; reject: (err: Error) => void } | undefined
  #pendingHello: Uint8Array | undefined
  #closeReason: Error | undefined
  readonly #closedPromise: Promise<void>
  #resolveClosed!: () => void

  constructor(noise: NoiseSecretStream, options: PeerConnectionOptions) {
    super()
    this.remotePublicKey = new Uint8Array(noise.remotePublicKey!)
    this.handshakeHash = new Uint8Array(noise.handshakeHash!)
    this.initiator = options.initiator
    this.carrier = options.carrier
    this.remoteAddress = options.remoteAddress
    this.#backlogLimit = options.streamBacklog
    this.#closedPromise = new Promise((resolve) => {
      this.#resolveClosed = resolve
    })
    this.#mux = new Mux(noise, {
      initiator: options.initiator,
      // UDX caps what it queues (256 KiB + one congestion window); TCP's socket buffers grow to
      // megabytes, and a large window would fill them in front of every other stream.
      // A relay's stream sits on another connection's carrier: its queues are that carrier's.
      windowsFollowDelay: options.carrier !== 'udx',
      ...(options.carrier === 'tcp' && { windowFloorBytes: TCP_WINDOW_FLOOR_BYTES }),
      ...(options.carrier === 'udx' && {
        carrierRttMs: () => (noise.rawStream as UDX.Stream).rtt,
        sendGate: (wake: () => void) => {
          this.#gate = new UdxSendGate(noise.rawStream as UDX.Stream, wake)
          return this.#gate
        },
      }),
      keepAliveMs: options.keepAliveMs,
      idleTimeoutMs: options.idleTimeoutMs,
      log: options.log,
      hooks: {
        onHello: (payload) => this.#onHello(payload),
        onStream: (stream) => this.#onStream(stream),
        onClose: (error) => this.#onClose(error),
      },
    })
    this.lanes = new LaneManager(
      this,
      options.lane,
      (stream) => this.#onStream(stream),
      options.log,
    )
  }

  /** True when this is itself a bulk lane of another connection (never registered). */
  get isLane(): boolean {
    return this.#deliver !== undefined
  }

  /** The UDX stream under a UDX connection (benchmarks trace its congestion control). */
  get udxStream(): UDX.Stream | undefined {
    return this.carrier === 'udx' ? (this.#mux.noise.rawStream as UDX.Stream) : undefined
  }

  get closeReason(): Error | undefined {
    return this.#closeReason
  }

  /** Resolves once the connection is closed (whatever the reason). */
  get whenClosed(): Promise<void> {
    return this.#closedPromise
  }

  // ---- hello phase (used by the transport) ----

  sendHello(payload: Uint8Array): void {
    this.#mux.sendHello(payload)
  }

  /**
   * Runs `check` on the remote's hello when it arrives (at once if it came already); resolves
   * when it passed, rejects after the refusal was sent, or when the connection closes first.
   */
  receiveHello(check: HelloCheck): Promise<void> {
    if (this.#closeReason !== undefined) return Promise.reject(this.#closeReason)
    return new Promise((resolve, reject) => {
      this.#hello = { check, resolve, reject }
      const pending = this.#pendingHello
      this.#pendingHello = undefined
      if (pending !== undefined) this.#onHello(pending)
    })
  }

  markOpen(topic: TopicKeys, hello: Pick<Hello, 'agent' | 'version'>): void {
    this.topic = topic
    this.remoteAgent = hello.agent
    this.remoteVersion = hello.version
    this.#mux.setOpen()
  }

  /** Closes with a code the remote sees (REJECTED, NOT_TOPIC_MEMBER, ...). */
  reject(code: CloseCodeValue, reason: string, localError: Error): Promise<void> {
    return this.#mux.close(code, reason, localError)
  }

  // ---- Connection ----

  async openStream(options: OpenStreamOptions = {}): Promise<TransportStream> {
    const { signal } = options
    signal?.throwIfAborted()
    if (options.bulk === true) {
      const onLane = await this.lanes.openStream(signal)
      if (onLane !== undefined) return onLane
    }
    const stream = await this.#mux.openStream(signal)
    if (signal !== undefined) {
      // The signal covers the stream's whole life, as a fetch signal covers the body.
      const onAbort = () => stream.abort(signal.reason)
      signal.addEventListener('abort', onAbort, { once: true })
      void stream.closed.then(() => signal.removeEventListener('abort', onAbort))
    }
    return stream
  }

  async *incomingStreams(options: AbortOptions = {}): AsyncGenerator<TransportStream> {
    const { signal } = options
    for (;;) {
      signal?.throwIfAborted()
      const next = this.#backlog.shift()
      if (next !== undefined) {
        yield next
        continue
      }
      if (this.#closeReason !== undefined) return
      await new Promise<void>((resolve, reject) => {
        const onAbort = () => reject(signal!.reason)
        signal?.addEventListener('abort', onAbort, { once: true })
        this.#backlogWaiters.push(() => {
          signal?.removeEventListener('abort', onAbort)
          resolve()
        })
      })
    }
  }

  stats(): ConnectionStats {
    const stats: ConnectionStats = {
      carrier: this.carrier,
      rttMs: this.#mux.rttMs,
      bytesSent: this.#mux.noise.rawBytesWritten,
      bytesReceived: this.#mux.noise.rawBytesRead,
      openStreams: this.#mux.openStreams,
      largestWindowBytes: this.#mux.largestWindowBytes,
    }
    if (this.lanes.opened > 0) {
      stats.bulkLane = { opened: this.lanes.opened, current: this.lanes.current?.stats() }
    }
    if (this.carrier === 'udx') {
      const raw = this.#mux.noise.rawStream as UDX.Stream
      const buffer = raw.socket === null ? undefined : receiveBufferStatus(raw.socket)
      stats.udx = {
        cwnd: raw.cwnd,
        retransmits: raw.retransmits,
        rttMs: raw.rtt,
        inflight: raw.inflight,
        receiveBufferBytes: buffer?.bytes ?? 0,
        receiveBufferCapped: buffer?.capped ?? false,
      }
    }
    return stats
  }

  async close(options: AbortOptions = {}): Promise<void> {
    options.signal?.throwIfAborted()
    if (this.#closeReason !== undefined) return
    const closing = this.#mux.close(
      CloseCode.NORMAL,
      'closed',
      new TransportError('CLOSED', 'connection closed locally'),
    )
    if (options.signal === undefined) return closing
    const { signal } = options
    await new Promise<void>((resolve, reject) => {
      const onAbort = () => {
        this.destroy()
        reject(signal.reason)
      }
      signal.addEventListener('abort', onAbort, { once: true })
      void closing.then(() => {
        signal.removeEventListener('abort', onAbort)
        resolve()
      })
    })
  }

  destroy(error: Error = new TransportError('CLOSED', 'connection destroyed locally')): void {
    this.#mux.destroy(error)
  }

  /** A lane's streams from the remote go to the main connection's incoming streams. */
  deliverStreamsTo(deliver: (stream: MuxStream) => void): void {
    this.#deliver = deliver
    this.#mux.windowFloorBytes = LANE_WINDOW_FLOOR_BYTES
    if (this.#gate !== undefined) this.#gate.bulkLane = true
    // The dialler takes its lane only after the answer hello, a few turns later: streams the
    // remote opened at once (in the packets after its hello) waited in this lane's own backlog,
    // which nobody reads. Seen as a bulk round trip that never came back, 1 run in 5.
    for (let stream = this.#backlog.shift(); stream !== undefined; stream = this.#backlog.shift())
      deliver(stream)
  }

  // ---- multiplexer hooks ----

  #onHello(payload: Uint8Array): void {
    const hello = this.#hello
    if (hello === undefined) {
      this.#pendingHello = payload
      return
    }
    this.#hello = undefined
    let refusal: HelloRefusal | undefined
    try {
      refusal = hello.check(payload)
    } catch (err) {
      const error = err instanceof Error ? err : new Error(String(err))
      refusal = { code: CloseCode.BAD_HELLO, reason: error.message, error }
    }
    if (refusal === undefined) {
      hello.resolve()
      return
    }
    const { error } = refusal
    void this.#mux.close(refusal.code, refusal.reason, error).then(() => hello.reject(error))
  }

  #onStream(stream: MuxStream): void {
    if (this.#deliver !== undefined) {
      this.#deliver(stream)
      return
    }
    if (this.#backlog.length >= this.#backlogLimit) {
      stream.refuse(`more than ${this.#backlogLimit} streams waiting to be accepted`)
      return
    }
    this.#backlog.push(stream)
    this.#wakeBacklog()
  }

  #onClose(error: Error): void {
    this.#closeReason = error
    this.lanes.close()
    this.#backlog.clear()
    this.#hello?.reject(error)
    this.#hello = undefined
    this.#wakeBacklog()
    this.#resolveClosed()
    this.safeDispatchEvent('close', { detail: error })
  }

  #wakeBacklog(): void {
    const waiters = this.#backlogWaiters
    this.#backlogWaiters = []
    for (const wake of waiters) wake()
  }
}
