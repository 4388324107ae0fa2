import { equalBytes } from '@harddrive-party/wire-protocol/internal'
import type NoiseSecretStream from '@hyperswarm/secret-stream'
import type { HelloRefusal, PeerConnection } from './connection'
import { TransportError } from './errors'
import { abortable, short } from './handshake'
import type { Identity } from './identity'
import { CloseCode } from './mux-frame'
import type { MuxStream } from './mux-stream'
import { secureCarrier } from './noise'
import type { Carrier, Logger, SocketAddress, TransportStream } from './types'
import type { UdxEndpoint } from './udx-endpoint'

/**
 * The bulk lane (docs/transport.md §3.2): a second UDX stream between the same two sockets as
 * a UDX connection, with its own Noise handshake, secret-stream and multiplexer, for big
 * transfers. libudx's BBR leaves start-up for good once a stream has seen a few small
 * request/reply rounds, so a transfer on a connection that served `ls` ramps slowly; a fresh
 * UDX stream starts in start-up again. The lane closes after {@link LANE_IDLE_MS} without
 * streams, so the next burst gets a fresh start-up too.
 *
 * Its first frame on each side is a HELLO whose payload is {@link LANE_MAGIC} and the main
 * connection's handshake hash: the acceptor finds the connection by that hash and takes the
 * lane only when the lane's Noise handshake proved the connection's remote key.
 */
export const LANE_MAGIC = new Uint8Array([0x48, 0x44, 0x50, 0x4c]) // "HDPL"
/** A lane with no stream for this long is closed by the side that dialled it. */
export const LANE_IDLE_MS = 3000
/**
 * Windows of a lane's streams grow on every `BLOCKED` up to this, without waiting for a delay
 * sample. The delay rule (docs/transport.md §3) keeps small replies from waiting behind bulk
 * data, and a lane carries no small replies; and libudx's start-up, pacing at 2.9x its
 * estimate, raises the RTT at once, so under that rule a fresh lane's window stayed at 256 KiB
 * (52 Mbit/s at 40 ms) for three round trips and BBR left start-up there (traced).
 */
export const LANE_WINDOW_FLOOR_BYTES = 4 * 1024 * 1024
/** Longest a lane set-up may take before its bulk stream goes on the main connection. */
const LANE_SETUP_MS = 5000
/** After a failed set-up, bulk streams use the main connection for this long. */
const LANE_RETRY_MS = 30_000
const IDLE_CHECK_MS = 500

/** What dialling a lane needs: the main connection's socket, remote and identity. */
export interface LaneDialer {
  endpoint: UdxEndpoint
  identity: Identity
  remoteAddress: SocketAddress
  /** A connection object for the lane's secret-stream (not registered, never announced). */
  newLane(noise: NoiseSecretStream, remoteAddress: SocketAddress): PeerConnection
  /** The transport's shutdown signal. */
  shutdown: AbortSignal
}

export function encodeLaneHello(handshakeHash: Uint8Array): Uint8Array {
  const out = new Uint8Array(LANE_MAGIC.length + handshakeHash.length)
  out.set(LANE_MAGIC, 0)
  out.set(handshakeHash, LANE_MAGIC.length)
  return out
}

/**
 * Whether a HELLO payload is a lane's. A connection's hello starts with its frame length (a
 * few dozen bytes), never with these bytes.
 */
export function isLaneHello(payload: Uint8Array): boolean {
  return payload.length > LANE_MAGIC.length && equalBytes(payload.subarray(0, 4), LANE_MAGIC)
}

/**
 * The acceptor's side: finds the connection a lane's hello names (by handshake hash) and
 * hands the lane to it when the lane proved that connection's remote key.
 */
export function adoptLane(
  connections: Iterable<PeerConnection>,
  lane: PeerConnection,
  hello: Uint8Array,
  carrier: Carrier,
): HelloRefusal | undefined {
  const refuse = (code: 'REJECTED' | 'PEER_KEY_MISMATCH', reason: string) => ({
    code: CloseCode.REJECTED,
    reason,
    error: new TransportError(code, `lane from ${short(lane.remotePublicKey)}: ${reason}`),
  })
  if (carrier !== 'udx') return refuse('REJECTED', `no lanes on a ${carrier} carrier`)
  const hash = hello.subarray(LANE_MAGIC.length)
  let main: PeerConnection | undefined
  for (const c of connections) if (equalBytes(c.handshakeHash, hash)) main = c
  if (main === undefined || main.carrier !== 'udx') return refuse('REJECTED', 'no such connection')
  if (!equalBytes(main.remotePublicKey, lane.remotePublicKey)) {
    return refuse('PEER_KEY_MISMATCH', `the connection is to ${short(main.remotePublicKey)}`)
  }
  return main.lanes.adopt(lane, hello)
}

/** A lane speaks for its connection: the same topic, version and agent. */
function helloOf(main: PeerConnection) {
  const agent = main.remoteAgent
  return { version: main.remoteVersion, ...(agent !== undefined && { agent }) }
}

/**
 * Dials a lane for `main`: a UDX stream to its remote, Noise with the key check, then the lane
 * hellos. `hello` is what we send (tests send forged ones; `null` sends none).
 */
export async function dialLane(
  dialer: LaneDialer,
  main: PeerConnection,
  signal: AbortSignal,
  hello: Uint8Array | null = encodeLaneHello(main.handshakeHash),
): Promise<PeerConnection> {
  const { host, port } = dialer.remoteAddress
  const { stream, from } = await dialer.endpoint.connect(host, port, signal)
  const noise = await secureCarrier(stream, true, dialer.identity, signal).catch((err) => {
    stream.destroy()
    throw err
  })
  if (!equalBytes(noise.remotePublicKey!, main.remotePublicKey)) {
    noise.destroy()
    throw new TransportError(
      'PEER_KEY_MISMATCH',
      `lane to ${host}:${port} proved key ${short(noise.remotePublicKey!)}, expected ${short(main.remotePublicKey)}`,
    )
  }
  const lane = dialer.newLane(noise, from)
  try {
    if (hello !== null) lane.sendHello(hello)
    const check = (payload: Uint8Array): HelloRefusal | undefined => {
      if (hello === null || !equalBytes(payload, hello)) {
        const error = new TransportError('BAD_HELLO', 'the lane answer names another connection')
        return { code: CloseCode.BAD_HELLO, reason: 'bad lane hello', error }
      }
      lane.markOpen(main.topic, helloOf(main))
      return undefined
    }
    await abortable(lane.receiveHello(check), signal)
    return lane
  } catch (err) {
    lane.destroy(err instanceof Error ? err : undefined)
    throw err
  }
}

/**
 * The lane of one main connection: dials it when the first bulk stream is opened, takes one
 * the remote dialled, hands the remote's lane streams to the connection's incoming streams,
 * and closes an idle lane. A lane failing never touches the main connection.
 */
export class LaneManager {
  readonly #main: PeerConnection
  readonly #dialer: LaneDialer | undefined
  readonly #deliver: (stream: MuxStream) => void
  readonly #log: Logger
  #lane: PeerConnection | undefined
  #dialing: Promise<PeerConnection | undefined> | undefined
  #dialAbort: AbortController | undefined
  #retryAt = 0
  #opened = 0
  #closed = false

  constructor(
    main: PeerConnection,
    dialer: LaneDialer | undefined,
    deliver: (stream: MuxStream) => void,
    log: Logger,
  ) {
    this.#main = main
    this.#dialer = dialer
    this.#deliver = deliver
    this.#log = log
  }

  /** The open lane, if any. */
  get current(): PeerConnection | undefined {
    return this.#lane
  }

  /** Lanes opened so far (dialled or taken). */
  get opened(): number {
    return this.#opened
  }

  /** Whether bulk streams to this remote may go on a lane (UDX, remote speaks 1.2 or newer). */
  get enabled(): boolean {
    const [major, minor] = this.#main.remoteVersion
    return this.#dialer !== undefined && major === 1 && minor >= 2
  }

  /**
   * Opens a stream on the lane (dialling one if needed); undefined when bulk streams should
   * go on the main connection (no lane possible, or its set-up failed).
   */
  async openStream(signal: AbortSignal | undefined): Promise<TransportStream | undefined> {
    if (this.#closed || !this.enabled) return undefined
    const lane = this.#lane ?? (await this.#ensure(signal))
    if (lane === undefined || lane.closeReason !== undefined) return undefined
    try {
      const options = signal === undefined ? {} : { signal }
      return await lane.openStream(options)
    } catch (err) {
      signal?.throwIfAborted()
      // The lane closed under us (idle close racing this call): the main connection serves.
      this.#log('bulk lane closed while opening a stream: %s', (err as Error).message)
      return undefined
    }
  }

  /**
   * The remote dialled a lane for this connection (its key already checked): take it, or say
   * why not. Runs inside the lane's frame loop, like a hello check.
   */
  adopt(lane: PeerConnection, hello: Uint8Array): HelloRefusal | undefined {
    const refuse = (reason: string): HelloRefusal => ({
      code: CloseCode.REJECTED,
      reason,
      error: new TransportError('REJECTED', `lane from ${short(lane.remotePublicKey)}: ${reason}`),
    })
    if (this.#closed) return refuse('connection closed')
    const old = this.#lane
    if (old !== undefined) {
      // The remote dials again only when it closed its lane; its CLOSE may still be on the way.
      // A lane in use (or one we dialled) stays, and the new one is refused.
      if (old.initiator || old.stats().openStreams > 0) return refuse('a lane is already open')
      this.#lane = undefined
      old.destroy(new TransportError('CLOSED', 'the remote dialled a new lane'))
    }
    if (this.#dialing !== undefined) {
      // Both sides dialled at once: the main connection's dialer's lane wins.
      if (this.#main.initiator) return refuse('both sides dialled a lane; ours wins')
      this.#dialAbort?.abort(new TransportError('CLOSED', 'the remote dialled a lane first'))
    }
    lane.sendHello(hello)
    lane.markOpen(this.#main.topic, helloOf(this.#main))
    this.#install(lane)
    return undefined
  }

  /**
   * Dials a lane that sends `hello` (`null`: none) and returns it without taking it as this
   * connection's lane: the hostile-lane tests send forged ones.
   */
  dialWith(hello: Uint8Array | null, signal: AbortSignal): Promise<PeerConnection> {
    if (this.#dialer === undefined) throw new TypeError('not a UDX connection')
    return dialLane(this.#dialer, this.#main, signal, hello)
  }

  /** The main connection closed: so does its lane. */
  close(): void {
    this.#closed = true
    this.#dialAbort?.abort(new TransportError('CLOSED', 'connection closed'))
    this.#lane?.destroy(new TransportError('CLOSED', 'the connection closed'))
    this.#lane = undefined
  }

  #ensure(signal: AbortSignal | undefined): Promise<PeerConnection | undefined> {
    const dialer = this.#dialer
    if (dialer === undefined || performance.now() < this.#retryAt) {
      return Promise.resolve(undefined)
    }
    if (this.#dialing === undefined) {
      const abort = new AbortController()
      this.#dialAbort = abort
      const dialSignal = AbortSignal.any([
        abort.signal,
        dialer.shutdown,
        AbortSignal.timeout(LANE_SETUP_MS),
      ])
      this.#dialing = dialLane(dialer, this.#main, dialSignal)
        .then(
          (lane) => {
            if (this.#closed || this.#lane !== undefined) {
              lane.destroy()
              return this.#lane
            }
            this.#install(lane)
            return lane
          },
          (err: Error) => {
            // Adopted the remote's lane meanwhile, or the set-up failed: fall back for a while.
            if (this.#lane !== undefined) return this.#lane
            if (!this.#closed) this.#retryAt = performance.now() + LANE_RETRY_MS
            this.#log('bulk lane set-up failed, using the connection: %s', err.message)
            return undefined
          },
        )
        .finally(() => {
          this.#dialing = undefined
          this.#dialAbort = undefined
        })
    }
    // The caller's signal ends its wait, not the shared set-up.
    return signal === undefined ? this.#dialing : abortable(this.#dialing, signal)
  }

  #install(lane: PeerConnection): void {
    this.#lane = lane
    this.#opened++
    lane.deliverStreamsTo(this.#deliver)
    // The side that dialled closes it when idle; the other follows its CLOSE. One timer per
    // lane: a closing lane's end must not stop the next lane's timer.
    let idleSince = performance.now()
    const idleTimer = !lane.initiator
      ? undefined
      : setInterval(() => {
          if (lane.stats().openStreams > 0) {
            idleSince = performance.now()
            return
          }
          if (performance.now() - idleSince < LANE_IDLE_MS) return
          if (this.#lane === lane) this.#lane = undefined
          void lane.close()
        }, IDLE_CHECK_MS)
    idleTimer?.unref?.()
    lane.addEventListener(
      'close',
      (event) => {
        if (this.#lane === lane) this.#lane = undefined
        clearInterval(idleTimer)
        this.#log('bulk lane closed: %s', event.detail.message)
      },
      { once: true },
    )
  }
}
