import type { Connection, DatagramSocket } from '@harddrive-party/transport'
import type { Logger } from '@harddrive-party/wire-protocol'
import { isDialer } from '@harddrive-party/wire-protocol/internal'
import { TypedEventEmitter } from 'main-event'

const TIERS: Record<ConnectionPath, number> = { relay: 0, turn: 1, direct: 2 }

export interface LiveConnectionEvent {
  key: Uint8Array
  connection: Connection
  /** The connection it replaced (a race, or a reconnect the remote saw first), if any. */
  replaced: Connection | undefined
}

export interface ConnectionGoneEvent {
  key: Uint8Array
  connection: Connection
  reason: Error | undefined
}

export interface ConnectionRegistryEvents {
  /** A connection became the peer's live one. */
  live: CustomEvent<LiveConnectionEvent>
  /** The peer's live connection closed and none replaced it. */
  gone: CustomEvent<ConnectionGoneEvent>
}

/** How a connection reaches the peer, best first: what decides which of two connections stays. */
export type ConnectionPath = 'direct' | 'turn' | 'relay'

/** How long a relayed connection replaced by a direct one may finish its open streams. */
export const DEFAULT_DRAIN_MS = 30_000
/**
 * A direct TCP connection live at least this long may be replaced by a newer direct UDX one of
 * the same peer (a carrier move, `carrier-move.ts`). Younger, the dialler-key rule decides: in a
 * simultaneous dial both ends see the two connections within a second, in different orders.
 */
export const MOVE_MIN_AGE_MS = 10_000
/**
 * How long a TCP connection replaced by a move may finish its streams: the move was for speed,
 * so a big read is cut soon and resumed over UDX from the bytes already on disk.
 */
export const DEFAULT_MOVE_DRAIN_MS = 2000

/**
 * One live connection per peer. When two exist (both dialled at once, or a reconnect arrived
 * before the old connection's death was noticed) both sides keep the same one, without talking:
 * a direct connection beats a TURN one, which beats one through a relaying member; otherwise
 * the connection dialled by the lower key wins; between two dialled by the same side, the newer
 * wins (that side dials only after it dropped its previous connection, so the newer one is the
 * one it still has). One exception, a carrier move: a newer direct UDX connection replaces a
 * direct TCP one live for {@link MOVE_MIN_AGE_MS}, whoever dialled either (never the other way).
 * The loser is closed; a relayed connection replaced by a better path first finishes its open
 * streams (a download in flight), for at most `drainMs`; a moved TCP one for `moveDrainMs`.
 */
export class ConnectionRegistry extends TypedEventEmitter<ConnectionRegistryEvents> {
  readonly #publicKey: Uint8Array
  readonly #log: Logger
  readonly #live = new Map<string, Connection>()
  readonly #sockets = new Map<Connection, DatagramSocket>()
  readonly #since = new WeakMap<Connection, number>()
  readonly #turn = new WeakSet<Connection>()
  readonly #draining = new Map<Connection, NodeJS.Timeout>()
  readonly #drainMs: number
  readonly #moveDrainMs: number
  readonly #now: () => number

  constructor(
    publicKey: Uint8Array,
    log: Logger,
    options: { drainMs?: number; moveDrainMs?: number; now?: () => number } = {},
  ) {
    super()
    this.#publicKey = publicKey
    this.#log = log
    this.#drainMs = options.drainMs ?? DEFAULT_DRAIN_MS
    this.#moveDrainMs = options.moveDrainMs ?? DEFAULT_MOVE_DRAIN_MS
    this.#now = options.now ?? Date.now
  }

  /**
   * Marks a connection as one through a TURN relay (before `add`): the dialer marks what it
   * dialled at a relayed address, the acceptor what arrived from its relay's loopback stand-in.
   */
  markTurn(connection: Connection): void {
    this.#turn.add(connection)
  }

  /** How `connection` reaches the peer. */
  pathOf(connection: Connection): ConnectionPath {
    if (connection.carrier === 'relay') return 'relay'
    return this.#turn.has(connection) ? 'turn' : 'direct'
  }

  /** Whether `connection` goes through a relay (a member or TURN): a direct one may replace it. */
  isRelayed(connection: Connection): boolean {
    return this.pathOf(connection) !== 'direct'
  }

  get(hex: string): Connection | undefined {
    return this.#live.get(hex)
  }

  all(): Connection[] {
    return [...this.#live.values()]
  }

  /** When `connection` became live (ms since the epoch), or undefined. */
  liveSince(connection: Connection): number | undefined {
    return this.#since.get(connection)
  }

  /** Offers a new connection (dialled or accepted). True when it became the live one. */
  add(connection: Connection): boolean {
    if (connection.closeReason !== undefined) return false
    const key = connection.remotePublicKey
    const hex = Buffer.from(key).toString('hex')
    const current = this.#live.get(hex)
    if (current === connection) return true
    const moved = current !== undefined && this.isCarrierMove(current, connection)
    if (current !== undefined && current.closeReason === undefined && !moved) {
      if (this.#rank(connection) < this.#rank(current)) {
        this.#log('%s: keeping the connection dialled by the lower key', hex.slice(0, 8))
        void connection.close().catch(() => {})
        return false
      }
    }
    this.#live.set(hex, connection)
    this.#since.set(connection, this.#now())
    connection.addEventListener(
      'close',
      (event) => {
        this.#closeSocket(connection)
        if (this.#live.get(hex) !== connection) return
        this.#live.delete(hex)
        this.safeDispatchEvent('gone', { detail: { key, connection, reason: event.detail } })
      },
      { once: true },
    )
    const replaced = current?.closeReason === undefined ? current : undefined
    this.safeDispatchEvent('live', { detail: { key, connection, replaced } })
    if (replaced === undefined) return true
    // An upgrade from a relay: the relayed connection still works, so what it carries may end.
    if (this.#tier(replaced) < this.#tier(connection)) this.#drain(replaced, this.#drainMs, 'relay')
    else if (moved) this.#drain(replaced, this.#moveDrainMs, 'move')
    else void replaced.close().catch(() => {})
    return true
  }

  /**
   * Whether `newer` replaces `older` as a carrier move: both direct, `older` over TCP and live
   * for {@link MOVE_MIN_AGE_MS}, `newer` over UDX. Both ends judge alike: the mover probes only
   * once the TCP connection is older than that by seconds (`carrier-move.ts`).
   */
  isCarrierMove(older: Connection, newer: Connection): boolean {
    if (older.carrier !== 'tcp' || newer.carrier !== 'udx') return false
    if (this.isRelayed(older) || this.isRelayed(newer)) return false
    const since = this.#since.get(older)
    return since !== undefined && this.#now() - since >= MOVE_MIN_AGE_MS
  }

  /** Resolves with the peer's live connection now or when it arrives, or undefined after `waitMs`. */
  waitFor(
    hex: string,
    waitMs: number,
    signal: AbortSignal,
    /** A connection that does not count (the one a new attempt is to replace). */
    ignore?: Connection,
  ): Promise<Connection | undefined> {
    const now = this.#live.get(hex)
    if (now !== undefined && now !== ignore) return Promise.resolve(now)
    return new Promise((resolve, reject) => {
      const onLive = ({ detail }: CustomEvent<LiveConnectionEvent>) => {
        if (Buffer.from(detail.key).toString('hex') !== hex || detail.connection === ignore) return
        finish(detail.connection)
      }
      const onAbort = () => {
        cleanup()
        reject(signal.reason)
      }
      const timer = setTimeout(() => finish(undefined), waitMs)
      const cleanup = () => {
        clearTimeout(timer)
        this.removeEventListener('live', onLive)
        signal.removeEventListener('abort', onAbort)
      }
      const finish = (connection: Connection | undefined) => {
        cleanup()
        resolve(connection)
      }
      if (signal.aborted) return onAbort()
      this.addEventListener('live', onLive)
      signal.addEventListener('abort', onAbort, { once: true })
    })
  }

  /** The socket (a birthday punch's) closes when `connection` does. */
  attachSocket(connection: Connection, socket: DatagramSocket): void {
    if (connection.closeReason !== undefined) {
      void socket.close().catch(() => {})
      return
    }
    this.#sockets.set(connection, socket)
  }

  /** Closes every live connection and every one still draining (their sockets follow). */
  async closeAll(): Promise<void> {
    const draining = [...this.#draining.keys()]
    for (const timer of this.#draining.values()) clearInterval(timer)
    this.#draining.clear()
    await Promise.allSettled([...this.all(), ...draining].map((c) => c.close()))
  }

  /** Replaced connections still finishing their streams. */
  get drainingCount(): number {
    return this.#draining.size
  }

  /** Sockets attached to connections still open (for tests and the doctor). */
  get attachedSockets(): number {
    return this.#sockets.size
  }

  #tier(connection: Connection): number {
    return TIERS[this.pathOf(connection)]
  }

  #rank(connection: Connection): number {
    // A relay is the last resort: a direct connection replaces a TURN one, which replaces one
    // through a member. Both sides classify a connection alike, so they keep the same one.
    const theirs = connection.remotePublicKey
    const dialledByLower = connection.initiator
      ? isDialer(this.#publicKey, theirs)
      : isDialer(theirs, this.#publicKey)
    return this.#tier(connection) * 2 + (dialledByLower ? 1 : 0)
  }

  /**
   * Closes `connection` once it carries no stream (checked every 250 ms), or after `limitMs`:
   * new requests go to the live connection meanwhile, and a transfer cut at the deadline is
   * resumed there by the downloads.
   */
  #drain(connection: Connection, limitMs: number, why: 'relay' | 'move'): void {
    const startedAt = Date.now()
    const done = () => {
      clearInterval(timer)
      this.#draining.delete(connection)
      void connection.close().catch(() => {})
    }
    const timer = setInterval(() => {
      if (connection.closeReason !== undefined) return done()
      if (connection.stats().openStreams === 0 || Date.now() - startedAt >= limitMs) done()
    }, 250)
    timer.unref()
    this.#draining.set(connection, timer)
    this.#log(
      why === 'relay'
        ? '%s: replaced by a direct connection; the relayed one finishes its streams first'
        : '%s: moved from TCP to UDX; the TCP connection finishes its streams for %d ms at most',
      Buffer.from(connection.remotePublicKey).toString('hex').slice(0, 8),
      limitMs,
    )
  }

  #closeSocket(connection: Connection): void {
    const socket = this.#sockets.get(connection)
    if (socket === undefined) return
    this.#sockets.delete(connection)
    void socket.close().catch(() => {})
  }
}
