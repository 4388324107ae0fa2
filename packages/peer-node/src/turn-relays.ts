import {
  createTurnRelay,
  parseTurnServer,
  type TurnRelay,
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
  /** Our allocation ended on its own (a refresh failed); `relayed` is now undefined. */
  onLost?: () => void
  log: Logger
}

/**
 * Holds one TURN allocation (the first configured server that allocates) while our NAT is one
 * that punching cannot cross from another hard NAT. Peers then dial our relayed address; the
 * relay delivers their datagrams to our transport from a loopback address per peer.
 */
export class TurnRelays {
  readonly #servers: TurnServer[]
  readonly #log: Logger
  readonly #onLost: (() => void) | undefined
  #relay: TurnRelay | undefined
  #starting: Promise<TurnRelay | undefined> | undefined
  #lastError: string | undefined

  constructor(options: TurnRelaysOptions) {
    // Parsed up front: a bad URL is the caller's mistake, reported at start (TURN_BAD_SERVER).
    this.#servers = options.servers.map((s) => parseTurnServer(s))
    this.#log = options.log
    this.#onLost = options.onLost
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
    await this.#starting?.catch(() => undefined)
    const relay = this.#relay
    this.#relay = undefined
    await relay?.close().catch((err: unknown) => this.#log('TURN close: %s', describeError(err)))
  }

  async #allocate(target: { host: string; port: number }): Promise<TurnRelay | undefined> {
    for (const server of this.#servers) {
      try {
        const relay = await createTurnRelay({
          server,
          target,
          log: this.#log,
          onClose: (reason) => {
            if (this.#relay !== relay) return
            this.#lastError = reason.message
            this.#relay = undefined
            void relay.close().catch(() => {})
            this.#onLost?.()
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
