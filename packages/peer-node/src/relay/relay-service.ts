import type { Connection, TransportStream } from '@harddrive-party/transport'
import type { Logger } from '@harddrive-party/wire-protocol'
import {
  encodeFrame,
  encodeRelayMessage,
  type PeerErrorCode,
  type RelayRequest,
} from '@harddrive-party/wire-protocol'
import { describeError, PeerNodeError } from '../errors'
import { TokenBucket } from '../serving/rate-limit'

/** Relaying for other members (`relay` option of `createPeerNode`); off unless enabled. */
export interface RelayOptions {
  /** Relay for members that cannot reach each other (and announce that we do). Default false. */
  enabled?: boolean
  /** Bytes per second over every relayed pair, both directions together; 0 = unlimited. Default 1 MiB/s. */
  maxBytesPerSecond?: number
  /** Pairs relayed at once. Default 8. */
  maxPairs?: number
  /** Pairs one asking member may hold at once. Default 2. */
  maxPairsPerPeer?: number
  /** A pipe whose receiving end takes nothing for this long ends the pair. Default 30000. */
  stallTimeoutMs?: number
  /**
   * Sees every chunk the relay forwards (ciphertext), e.g. to check that it is not the
   * plaintext. For tests and debugging; keep it cheap.
   */
  tap?: (chunk: Uint8Array, toward: 'asker' | 'target') => void
}

/** One relayed pair, for the doctor. */
export interface RelayPairInfo {
  /** Hex key of the member that asked (the dialer), and of the one it reaches. */
  asker: string
  target: string
  /** Bytes forwarded each way (Noise ciphertext and the inner connection's framing). */
  bytesToTarget: number
  bytesToAsker: number
  startedAt: number
}

/** What the relay is doing, for the doctor (`node.relay`). */
export interface RelayInfo {
  enabled: boolean
  maxBytesPerSecond: number
  maxPairs: number
  pairs: RelayPairInfo[]
  /** Since start: pairs relayed, bytes forwarded over all pairs, requests refused. */
  pairsTotal: number
  bytesForwarded: number
  refused: number
}

const DEFAULTS = {
  maxBytesPerSecond: 1024 * 1024,
  maxPairs: 8,
  maxPairsPerPeer: 2,
  stallTimeoutMs: 30_000,
}
/** Relay requests one member may make in a burst, then per second: floods get `BUSY`. */
const REQUEST_BURST = 8
const REQUESTS_PER_SECOND = 1
/** Opening the stream to the target (it waits while that connection has its maximum open). */
const OPEN_TIMEOUT_MS = 5000

interface Pair {
  info: RelayPairInfo
  streams: [TransportStream, TransportStream]
}

/**
 * The relay's side of protocol §7.5: a member connected to us asks to be joined to another
 * member connected to us; we open a stream to that one and copy bytes between the two streams
 * without reading them (the two run their own encrypted connection inside), within a bandwidth
 * cap shared by every pair, and count them. Memory per pair is bounded by the streams' windows:
 * a pipe reads its next chunk only after the previous one was written to the other side.
 */
export class RelayService {
  readonly #o: Required<Omit<RelayOptions, 'tap'>> & Pick<RelayOptions, 'tap'>
  readonly #live: (hex: string) => Connection | undefined
  readonly #log: Logger
  readonly #bucket: TokenBucket
  readonly #pairs = new Set<Pair>()
  /** Request tokens per asking member (hex): a few in a burst, then one per second. */
  readonly #requestTokens = new Map<string, { tokens: number; at: number }>()
  #pairsTotal = 0
  #bytesForwarded = 0
  #refused = 0
  #shutdown = new AbortController()

  constructor(options: RelayOptions, live: (hex: string) => Connection | undefined, log: Logger) {
    const o = { ...DEFAULTS, enabled: false, ...options }
    for (const [name, min] of [
      ['maxBytesPerSecond', 0],
      ['maxPairs', 0],
      ['maxPairsPerPeer', 1],
      ['stallTimeoutMs', 1],
    ] as const) {
      const value = o[name]
      if (!Number.isFinite(value) || value < min) {
        throw new PeerNodeError('INVALID_OPTIONS', `relay.${name} must be a number ≥ ${min}`)
      }
    }
    this.#o = o
    this.#live = live
    this.#log = log
    this.#bucket = new TokenBucket(o.maxBytesPerSecond)
  }

  get enabled(): boolean {
    return this.#o.enabled
  }

  get info(): RelayInfo {
    return {
      enabled: this.#o.enabled,
      maxBytesPerSecond: this.#o.maxBytesPerSecond,
      maxPairs: this.#o.maxPairs,
      pairs: [...this.#pairs].map((p) => ({ ...p.info })),
      pairsTotal: this.#pairsTotal,
      bytesForwarded: this.#bytesForwarded,
      refused: this.#refused,
    }
  }

  /** Ends every pair (their streams are aborted). */
  stop(): void {
    this.#shutdown.abort(new PeerNodeError('INTERRUPTED', 'the relay is stopping'))
    this.#shutdown = new AbortController()
  }

  /**
   * Answers a `relay` request on `stream` from `asker` (hex); `head` are bytes that followed
   * the request frame. Resolves when the pair ends (or at once, refused).
   */
  async relay(
    asker: string,
    request: RelayRequest,
    stream: TransportStream,
    head: readonly Uint8Array[],
  ): Promise<void> {
    const target = Buffer.from(request.to).toString('hex')
    const refusal = this.#check(asker, target)
    if (refusal !== undefined) return this.#refuse(stream, asker, refusal[0], refusal[1])
    const targetConnection = this.#live(target)!
    let toTarget: TransportStream
    try {
      toTarget = await openWithin(targetConnection, OPEN_TIMEOUT_MS)
    } catch (err) {
      return this.#refuse(
        stream,
        asker,
        'BUSY',
        `no stream to ${target.slice(0, 8)}: ${describeError(err)}`,
      )
    }
    const info: RelayPairInfo = {
      asker,
      target,
      bytesToTarget: 0,
      bytesToAsker: 0,
      startedAt: Date.now(),
    }
    const pair: Pair = { info, streams: [stream, toTarget] }
    this.#pairs.add(pair)
    this.#pairsTotal++
    this.#log('relaying %s <-> %s', asker.slice(0, 8), target.slice(0, 8))
    const onShutdown = () => {
      stream.abort(this.#shutdown.signal.reason)
      toTarget.abort(this.#shutdown.signal.reason)
    }
    const shutdown = this.#shutdown.signal
    shutdown.addEventListener('abort', onShutdown, { once: true })
    try {
      await toTarget.write(frame({ type: 'relayed', from: Buffer.from(asker, 'hex') }))
      await stream.write(frame({ type: 'relay-ok' }))
      for (const chunk of head) await this.#forward(pair, chunk, toTarget, 'target')
      await Promise.all([
        this.#pipe(pair, stream, toTarget, 'target'),
        this.#pipe(pair, toTarget, stream, 'asker'),
      ])
    } catch (err) {
      stream.abort(err)
      toTarget.abort(err)
    } finally {
      shutdown.removeEventListener('abort', onShutdown)
      this.#pairs.delete(pair)
      this.#log(
        'relay %s <-> %s ended: %d bytes to the target, %d back',
        asker.slice(0, 8),
        target.slice(0, 8),
        info.bytesToTarget,
        info.bytesToAsker,
      )
    }
  }

  #check(asker: string, target: string): [PeerErrorCode, string] | undefined {
    if (!this.#o.enabled) return ['FORBIDDEN', 'this member does not relay']
    if (!this.#takeRequestToken(asker)) return ['BUSY', 'too many relay requests; slow down']
    if (target === asker) return ['NOT_FOUND', 'cannot relay a member to itself']
    const targetConnection = this.#live(target)
    if (targetConnection === undefined || targetConnection.carrier === 'relay') {
      return ['NOT_FOUND', `not connected to ${target.slice(0, 8)}`]
    }
    if (this.#pairs.size >= this.#o.maxPairs) {
      return ['BUSY', `relaying ${this.#pairs.size} pairs already (the limit)`]
    }
    let mine = 0
    for (const p of this.#pairs) if (p.info.asker === asker) mine++
    if (mine >= this.#o.maxPairsPerPeer)
      return ['BUSY', `${mine} pairs of yours are relayed already`]
    return undefined
  }

  async #refuse(stream: TransportStream, asker: string, code: PeerErrorCode, message: string) {
    this.#refused++
    this.#log('refused to relay for %s: %s %s', asker.slice(0, 8), code, message)
    try {
      await stream.write(frame({ type: 'error', code, message }))
      await stream.end()
    } catch {
      stream.abort()
    }
  }

  /** Copies `from` to `to` until `from` ends; ends `to` then. Throws when either side fails. */
  async #pipe(
    pair: Pair,
    from: TransportStream,
    to: TransportStream,
    toward: 'asker' | 'target',
  ): Promise<void> {
    for await (const chunk of from) await this.#forward(pair, chunk, to, toward)
    await to.end()
  }

  async #forward(
    pair: Pair,
    chunk: Uint8Array,
    to: TransportStream,
    toward: 'asker' | 'target',
  ): Promise<void> {
    this.#o.tap?.(chunk, toward)
    await this.#bucket.take(chunk.length, { signal: this.#shutdown.signal })
    const stalled = setTimeout(() => {
      to.abort(
        new PeerNodeError('INTERRUPTED', `relayed stream stalled for ${this.#o.stallTimeoutMs} ms`),
      )
    }, this.#o.stallTimeoutMs)
    try {
      await to.write(chunk)
    } finally {
      clearTimeout(stalled)
    }
    if (toward === 'target') pair.info.bytesToTarget += chunk.length
    else pair.info.bytesToAsker += chunk.length
    this.#bytesForwarded += chunk.length
  }

  #takeRequestToken(asker: string): boolean {
    const now = performance.now()
    if (this.#requestTokens.size > 1024) {
      // Members long quiet are back at a full burst anyway: forget them (bounded memory).
      for (const [k, v] of this.#requestTokens) {
        if (now - v.at > (REQUEST_BURST / REQUESTS_PER_SECOND) * 1000) this.#requestTokens.delete(k)
      }
    }
    const state = this.#requestTokens.get(asker) ?? { tokens: REQUEST_BURST, at: now }
    state.tokens = Math.min(
      REQUEST_BURST,
      state.tokens + ((now - state.at) / 1000) * REQUESTS_PER_SECOND,
    )
    state.at = now
    this.#requestTokens.set(asker, state)
    if (state.tokens < 1) return false
    state.tokens--
    return true
  }
}

/**
 * Opens a stream, giving up after `ms` (the connection may have its maximum open). Not with
 * `openStream({ signal })`: that signal would cover the stream's whole life.
 */
async function openWithin(connection: Connection, ms: number): Promise<TransportStream> {
  const opening = connection.openStream()
  let timer: NodeJS.Timeout | undefined
  const late = new Promise<never>((_, reject) => {
    timer = setTimeout(() => {
      void opening.then((stream) => stream.abort()).catch(() => {})
      reject(new PeerNodeError('BUSY', `no stream within ${ms} ms`))
    }, ms)
  })
  try {
    return await Promise.race([opening, late])
  } finally {
    clearTimeout(timer)
  }
}

function frame(message: Parameters<typeof encodeRelayMessage>[0]): Uint8Array {
  return encodeFrame(encodeRelayMessage(message))
}
