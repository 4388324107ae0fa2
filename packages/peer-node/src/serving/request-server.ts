import { setMaxListeners } from 'node:events'
import type { IndexStore } from '@harddrive-party/index-store'
import type { Connection, TransportStream } from '@harddrive-party/transport'
import type {
  AbortOptions,
  CreateLogger,
  Logger,
  RelayedRequest,
  RelayRequest,
} from '@harddrive-party/wire-protocol'
import { decodeIncomingRequest } from '@harddrive-party/wire-protocol'
import { TypedEventEmitter } from 'main-event'
import { PeerNodeError } from '../errors'
import { defaultLogger } from '../logger'
import { AnswerStream, answerFor } from './answer-stream'
import { TokenBucket } from './rate-limit'
import { serveList } from './serve-list'
import { serveRead } from './serve-read'
import { serveReadMany } from './serve-read-many'
import { fitsOneChunk, serveSmallRead } from './serve-small-read'
import { SharesVersion, serveWatch } from './serve-watch'
import {
  DEFAULT_SERVING_LIMITS,
  type LiveServingLimits,
  type ServingLimits,
} from './serving-limits'
import { UploadSlots } from './upload-slots'
import { type Upload, UploadTracker } from './upload-tracker'

export { DEFAULT_SERVING_LIMITS, type LiveServingLimits, type ServingLimits }

/**
 * Who answers the relay requests of protocol §7.5 (peer-node's relay room). Each resolves when
 * the relayed stream is done with; `head` holds bytes that followed the request frame.
 */
export interface RelayHandlers {
  relay(
    peer: string,
    request: RelayRequest,
    stream: TransportStream,
    head: Uint8Array[],
  ): Promise<void>
  relayed(
    peer: string,
    request: RelayedRequest,
    stream: TransportStream,
    head: Uint8Array[],
  ): Promise<void>
}

export interface RequestServerOptions {
  store: IndexStore
  limits?: Partial<ServingLimits>
  /** Relay requests; without them a peer's `relay` / `relayed` gets `BAD_REQUEST`. */
  relay?: () => RelayHandlers | undefined
  /** Display name of a peer's hex key, for uploads. Default: the key's first 8 characters. */
  peerName?: (hex: string) => string
  logger?: CreateLogger
}

export interface RequestServerEvents {
  /** An upload was queued, started, progressed (≤ 4 times a second) or ended. */
  upload: CustomEvent<Upload>
}

export interface RequestServerStats {
  /** Peers with a served connection or a request in progress. */
  peers: number
  /** Requests being answered now. */
  requests: number
  uploadSlots: { active: number; waiting: number }
  /** The small-read lane's slots (reads of at most one chunk). */
  smallReadSlots: { active: number; waiting: number }
  /** The shares version `watch` reports. */
  sharesVersion: number
}

/** Per peer (over all its connections): requests in progress and its upload bucket. */
interface PeerState {
  connections: number
  requests: number
  watches: number
  bucket: TokenBucket
}

/**
 * Serves our shares to connected peers: every stream a peer opens carries one request (`ls`,
 * `read` or `watch`, docs/protocol.md §7), answered here from the index store. One peer's
 * requests are bounded (over the limit it gets `BUSY`), reads share the upload slots fairly,
 * and uploads are rate limited globally and per peer.
 */
export class RequestServer extends TypedEventEmitter<RequestServerEvents> {
  readonly #store: IndexStore
  readonly #relay: RequestServerOptions['relay']
  readonly #limits: ServingLimits
  /** True while the per-peer slot share follows the slot count (it was not given). */
  #derivedPerPeer: boolean
  readonly #uploads: UploadTracker
  readonly #log: Logger
  readonly #slots: UploadSlots
  readonly #smallSlots: UploadSlots
  readonly #globalBucket: TokenBucket
  readonly #versions = new SharesVersion()
  readonly #peers = new Map<string, PeerState>()
  readonly #inflight = new Set<Promise<unknown>>()
  #shutdown = new AbortController()
  #state: 'stopped' | 'started' | 'stopping' = 'stopped'
  readonly #onStoreChange = () => {
    this.#log('shares changed: telling watching peers')
    this.#versions.bump()
  }

  constructor(options: RequestServerOptions) {
    super()
    this.#store = options.store
    this.#relay = options.relay
    this.#limits = { ...DEFAULT_SERVING_LIMITS, ...options.limits }
    this.#derivedPerPeer = options.limits?.maxActiveReadsPerPeer === undefined
    if (this.#derivedPerPeer) {
      this.#limits.maxActiveReadsPerPeer = Math.max(1, this.#limits.uploadSlots - 1)
    }
    this.#log = (options.logger ?? defaultLogger)('serving')
    this.#uploads = new UploadTracker({
      peerName: options.peerName ?? ((hex) => hex.slice(0, 8)),
      onChange: (upload) => this.safeDispatchEvent('upload', { detail: upload }),
    })
    this.#slots = new UploadSlots({
      slots: this.#limits.uploadSlots,
      maxActivePerPeer: this.#limits.maxActiveReadsPerPeer,
      maxWaitingPerPeer: this.#limits.maxWaitingReadsPerPeer,
      positionIntervalMs: this.#limits.queuePositionIntervalMs,
    })
    this.#smallSlots = new UploadSlots({
      slots: this.#limits.smallReadSlots,
      maxActivePerPeer: Math.max(1, Math.floor(this.#limits.smallReadSlots / 2)),
      maxWaitingPerPeer: this.#limits.maxWaitingReadsPerPeer,
      positionIntervalMs: this.#limits.queuePositionIntervalMs,
    })
    this.#globalBucket = new TokenBucket(this.#limits.uploadBytesPerSecond)
  }

  /** The limits in effect (defaults filled in). */
  get limits(): ServingLimits {
    return { ...this.#limits }
  }

  /**
   * Changes slots and upload rates while serving (validated: slots ≥ 1, rates ≥ 0, 0 = no
   * limit). Reads in progress keep their slot and follow the new rates from their next chunk.
   */
  setLimits(changes: Partial<LiveServingLimits>): void {
    const next = { ...this.#limits, ...changes }
    for (const key of ['uploadSlots', 'maxActiveReadsPerPeer'] as const) {
      if (!Number.isInteger(next[key]) || next[key] < 1)
        throw new PeerNodeError('INVALID_OPTIONS', `${key} must be a positive integer`)
    }
    for (const key of ['uploadBytesPerSecond', 'uploadBytesPerSecondPerPeer'] as const) {
      if (typeof next[key] !== 'number' || !(next[key] >= 0))
        throw new PeerNodeError('INVALID_OPTIONS', `${key} must be a number >= 0 (0: unlimited)`)
    }
    // The per-peer share follows the slot count unless it was set apart from it.
    const followed =
      this.#limits.maxActiveReadsPerPeer === Math.max(1, this.#limits.uploadSlots - 1)
    if (changes.maxActiveReadsPerPeer !== undefined) this.#derivedPerPeer = false
    else if (this.#derivedPerPeer || followed)
      next.maxActiveReadsPerPeer = Math.max(1, next.uploadSlots - 1)
    Object.assign(this.#limits, next)
    this.#slots.resize(next.uploadSlots, next.maxActiveReadsPerPeer)
    this.#globalBucket.setRate(next.uploadBytesPerSecond)
    for (const state of this.#peers.values()) state.bucket.setRate(next.uploadBytesPerSecondPerPeer)
  }

  /** Reads in progress (queued first), then the last ended ones (newest first). */
  uploads(): Upload[] {
    return this.#uploads.list()
  }

  /** Starts following the store's changes (for `watch`). Idempotent. */
  async start(options: AbortOptions = {}): Promise<void> {
    options.signal?.throwIfAborted()
    if (this.#state !== 'stopped') return
    this.#shutdown = new AbortController()
    // Every request in progress follows it (one listener each): no leak warning at 10.
    setMaxListeners(0, this.#shutdown.signal)
    this.#store.addEventListener('change', this.#onStoreChange)
    this.#state = 'started'
  }

  /** Aborts every request in progress and waits for them to end. Idempotent. */
  async stop(): Promise<void> {
    if (this.#state !== 'started') return
    this.#state = 'stopping'
    this.#store.removeEventListener('change', this.#onStoreChange)
    this.#shutdown.abort(new DOMException('the request server is stopping', 'AbortError'))
    await Promise.allSettled([...this.#inflight])
    this.#slots.close()
    this.#smallSlots.close()
    this.#state = 'stopped'
  }

  async [Symbol.asyncDispose](): Promise<void> {
    await this.stop()
  }

  /** Our shares changed in a way the store did not announce: tell watching peers. */
  sharesChanged(): void {
    this.#versions.bump()
  }

  stats(): RequestServerStats {
    let requests = 0
    for (const p of this.#peers.values()) requests += p.requests
    return {
      peers: this.#peers.size,
      requests,
      uploadSlots: this.#slots.stats(),
      smallReadSlots: this.#smallSlots.stats(),
      sharesVersion: this.#versions.current,
    }
  }

  /**
   * Answers the requests `connection`'s peer sends, until the connection closes (the returned
   * promise then resolves). The peer is the key it proved (`connection.remotePublicKey`); its
   * limits count over all its connections.
   */
  serve(connection: Connection): Promise<void> {
    if (this.#state !== 'started') {
      return Promise.reject(new PeerNodeError('NOT_STARTED', 'the request server is not started'))
    }
    const peer = Buffer.from(connection.remotePublicKey).toString('hex')
    const state = this.#peerState(peer)
    state.connections++
    const signal = this.#shutdown.signal
    const run = (async () => {
      try {
        for await (const stream of connection.incomingStreams({ signal })) {
          // Taken at once, answered concurrently: the transport's backlog never fills up.
          this.#track(this.#answer(peer, state, stream, signal))
        }
      } catch (err) {
        if (!signal.aborted) this.#log.error('serving %s ended: %O', peer.slice(0, 8), err)
      } finally {
        state.connections--
        this.#forgetIfIdle(peer, state)
      }
    })()
    return this.#track(run)
  }

  #peerState(peer: string): PeerState {
    let state = this.#peers.get(peer)
    if (state === undefined) {
      state = {
        connections: 0,
        requests: 0,
        watches: 0,
        bucket: new TokenBucket(this.#limits.uploadBytesPerSecondPerPeer),
      }
      this.#peers.set(peer, state)
    }
    return state
  }

  #forgetIfIdle(peer: string, state: PeerState): void {
    if (state.connections === 0 && state.requests === 0) this.#peers.delete(peer)
  }

  async #answer(
    peer: string,
    state: PeerState,
    stream: TransportStream,
    signal: AbortSignal,
  ): Promise<void> {
    const answer = new AnswerStream(stream, { stallTimeoutMs: this.#limits.stallTimeoutMs, signal })
    if (state.requests >= this.#limits.maxRequestsPerPeer) {
      this.#log.trace('%s: over %d requests, BUSY', peer.slice(0, 8), state.requests)
      await answer.fail('BUSY', `${state.requests} requests of yours are in progress already`)
      answer.dispose()
      return
    }
    state.requests++
    try {
      const request = decodeIncomingRequest(await answer.readRequest(this.#limits.requestTimeoutMs))
      if (request.type !== 'watch' && request.type !== 'relay' && request.type !== 'relayed') {
        answer.stopReading()
      }
      this.#log.trace('%s: %o', peer.slice(0, 8), request)
      switch (request.type) {
        case 'ls':
          await serveList(this.#store, request, answer, signal)
          break
        case 'read':
        case 'read-many': {
          const context = {
            store: this.#store,
            slots: this.#slots,
            smallSlots: this.#smallSlots,
            buckets: [this.#globalBucket, state.bucket],
            peer,
            uploads: this.#uploads,
            signal,
          }
          if (request.type === 'read-many') await serveReadMany(context, request, answer)
          else if (fitsOneChunk(request)) await serveSmallRead(context, request, answer)
          else await serveRead(context, request, answer)
          break
        }
        case 'relay':
        case 'relayed': {
          const handlers = this.#relay?.()
          if (handlers === undefined) {
            throw new PeerNodeError('BAD_REQUEST', 'this peer does not take relay requests')
          }
          // The stream now carries a relayed connection: its handler owns it until it ends.
          if (request.type === 'relay') {
            await handlers.relay(peer, request, stream, answer.takeBuffered())
          } else await handlers.relayed(peer, request, stream, answer.takeBuffered())
          break
        }
        case 'watch':
          if (state.watches >= this.#limits.maxWatchesPerPeer) {
            throw new PeerNodeError('BUSY', `${state.watches} watches of yours are open already`)
          }
          state.watches++
          try {
            await serveWatch(this.#versions, answer, signal)
          } finally {
            state.watches--
          }
          break
      }
    } catch (err) {
      await this.#failed(peer, answer, err)
    } finally {
      answer.dispose()
      state.requests--
      this.#forgetIfIdle(peer, state)
    }
  }

  /** Tells the peer what went wrong when it is about its request; logs the rest. */
  async #failed(peer: string, answer: AnswerStream, err: unknown): Promise<void> {
    if (this.#shutdown.signal.aborted) {
      answer.stream.abort()
      return
    }
    const known = answerFor(err)
    if (known !== undefined) {
      this.#log.trace('%s: %s %s', peer.slice(0, 8), known.code, known.message)
      await answer.fail(known.code, known.message)
      return
    }
    // The stream broke (reset, stalled, closed) or we failed: nothing useful can be sent.
    this.#log('%s: request ended: %s', peer.slice(0, 8), String(err))
    await answer.fail('INTERNAL', 'the request failed; details are in the serving peer log')
  }

  #track<T>(p: Promise<T>): Promise<T> {
    this.#inflight.add(p)
    const forget = () => this.#inflight.delete(p)
    p.then(forget, forget)
    return p
  }
}

/** Creates a {@link RequestServer}; call `start()`, then `serve(connection)` for each connection. */
export function createRequestServer(options: RequestServerOptions): RequestServer {
  return new RequestServer(options)
}
