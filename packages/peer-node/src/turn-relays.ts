import {
  createTurnRelay,
  parseTurnServer,
  type TurnRelay,
  type TurnRelayOptions,
  type TurnServer,
} from '@harddrive-party/holepunch'
import type { Logger } from '@harddrive-party/wire-protocol'
import { describeError } from './errors'

/** What the connection doctor shows about our TURN allocation. */
export interface TurnInfo {
  /** The server in use, password hidden (`turn://user:***@host:port`). */
  server: string
  /** The relayed address we announce. */
  relayed: { host: string; port: number }
  /** Peers relayed now, and bytes relayed to us / from us since the allocation. */
  peers: number
  bytesIn: number
  bytesOut: number
  /** The last server that failed, in words. */
  lastError?: string
}

export interface TurnRelaysOptions {
  /** `turn://user:pass@host:port` entries, tried in order until one allocates. */
  servers: readonly (string | TurnServer)[]
  /**
   * Delays in ms before allocating again after no server allocated (down, unreachable) or the
   * allocation was lost; the last repeats. Default 5 s doubling to 5 min.
   */
  retryMs?: readonly number[]
  /** Passed to each allocation (tests shorten the lifetime and retransmissions). */
  client?: Pick<TurnRelayOptions, 'lifetimeSec' | 'rtoMs' | 'maxRequests' | 'lastWaitFactor'>
  log: Logger
}

/** What `keep` holds an allocation for. */
export interface TurnKeep {
  /** Where relayed datagrams reach our transport (see `loopbackTarget`). */
  target: { host: string; port: number }
  /** Whether an allocation helps now (our NAT is hard); asked before each allocation. */
  wanted: () => boolean
  /** Our relayed address changed: made (announce it) or lost (undefined: stop announcing it). */
  onRelayed: (relayed: { host: string; port: number } | undefined) => void
}

export const DEFAULT_TURN_RETRY_MS = [
  5000, 10_000, 20_000, 40_000, 80_000, 160_000, 300_000,
] as const

/**
 * Holds one TURN allocation (the first configured server that allocates) while our NAT is one
 * that punching cannot cross from another hard NAT. Peers then dial our relayed address; the
 * relay delivers their datagrams to our transport from a loopback address per peer.
 */
export class TurnRelays {
  readonly #servers: TurnServer[]
  readonly #log: Logger
  readonly #o: TurnRelaysOptions
  #relay: TurnRelay | undefined
  #starting: Promise<TurnRelay | undefined> | undefined
  #lastError: string | undefined
  #keep: TurnKeep | undefined
  #retry: NodeJS.Timeout | undefined
  #retries = 0
  #stopped = false

  constructor(options: TurnRelaysOptions) {
    // Parsed up front: a bad URL is the caller's mistake, reported at start (TURN_BAD_SERVER).
    this.#servers = options.servers.map((s) => parseTurnServer(s))
    this.#log = options.log
    this.#o = options
  }

  /** Allocations made again on the retry timer since the last success (for tests and the doctor). */
  get retries(): number {
    return this.#retries
  }

  /**
   * Holds an allocation while `wanted()`: allocates now, again when it is lost, and after a
   * failure on the retry backoff, so a server that was down is used once it is up. Call
   * `ensure()` when `wanted()` may have changed (a NAT change).
   */
  async keep(keep: TurnKeep): Promise<void> {
    this.#keep = keep
    await this.ensure()
  }

  /** Allocates when kept, wanted and none is held; on failure, again after the next backoff step. */
  async ensure(): Promise<void> {
    const keep = this.#keep
    if (keep === undefined || this.#stopped || this.#relay !== undefined || !keep.wanted()) return
    if (this.#retry !== undefined) clearTimeout(this.#retry)
    this.#retry = undefined
    const relay = await this.start(keep.target)
    if (this.#stopped) return
    if (relay !== undefined) {
      this.#retries = 0
      keep.onRelayed(relay.relayed)
      return
    }
    if (this.#retry !== undefined) return // a concurrent ensure() scheduled it
    const steps = this.#o.retryMs ?? DEFAULT_TURN_RETRY_MS
    const delayMs = steps[Math.min(this.#retries, steps.length - 1)] ?? 300_000
    this.#retries++
    this.#log('no TURN allocation; trying again in %d ms', delayMs)
    this.#retry = setTimeout(() => {
      this.#retry = undefined
      void this.ensure()
    }, delayMs)
    this.#retry.unref()
  }

  get relayed(): { host: string; port: number } | undefined {
    return this.#relay?.relayed
  }

  get info(): TurnInfo | undefined {
    const r = this.#relay
    if (r === undefined) return undefined
    return {
      server: r.server,
      relayed: { ...r.relayed },
      ...r.stats(),
      ...(this.#lastError !== undefined ? { lastError: this.#lastError } : {}),
    }
  }

  /** Allocates on the first server that works; undefined when none does (logged). */
  async start(target: { host: string; port: number }): Promise<TurnRelay | undefined> {
    if (this.#relay) return this.#relay
    this.#starting ??= this.#allocate(target).finally(() => {
      this.#starting = undefined
    })
    return this.#starting
  }

  /** Whether a connection from `address` reached us through our allocation. */
  carries(address: { host: string; port: number }): boolean {
    return this.#relay?.carries(address) ?? false
  }

  /** Lets these peer IPs send to our relayed address. */
  async permit(hosts: readonly string[]): Promise<void> {
    await this.#relay?.permit(hosts)
  }

  async stop(): Promise<void> {
    this.#stopped = true
    if (this.#retry !== undefined) clearTimeout(this.#retry)
    this.#retry = undefined
    await this.#starting?.catch(() => undefined)
    const relay = this.#relay
    this.#relay = undefined
    await relay?.close().catch((err: unknown) => this.#log('TURN close: %s', describeError(err)))
  }

  async #allocate(target: { host: string; port: number }): Promise<TurnRelay | undefined> {
    for (const server of this.#servers) {
      try {
        const relay = await createTurnRelay({
          ...this.#o.client,
          server,
          target,
          log: this.#log,
          onClose: (reason) => {
            if (this.#relay !== relay) return
            this.#lastError = reason.message
            this.#relay = undefined
            void relay.close().catch(() => {})
            // Unannounced at once, allocated again now or on the retry timer.
            this.#keep?.onRelayed(undefined)
            void this.ensure()
          },
        })
        this.#relay = relay
        this.#log(
          'TURN allocation on %s: relayed %s:%d',
          this.#relay.server,
          this.#relay.relayed.host,
          this.#relay.relayed.port,
        )
        return this.#relay
      } catch (err) {
        this.#lastError = describeError(err)
        this.#log.error('TURN server %s:%d: %s', server.host, server.port, this.#lastError)
      }
    }
    return undefined
  }
}

/** Where relayed datagrams reach our transport: loopback when it listens on every address. */
export function loopbackTarget(bound: { host: string; port: number }): {
  host: string
  port: number
} {
  const wildcard = bound.host === '::' || bound.host === '0.0.0.0' || bound.host === ''
  return { host: wildcard ? '127.0.0.1' : bound.host, port: bound.port }
}
