import type { Connection, DatagramSocket } from '@harddrive-party/transport'
import type { Logger } from '@harddrive-party/wire-protocol'
import { isDialer } from '@harddrive-party/wire-protocol/internal'
import { TypedEventEmitter } from 'main-event'

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

/**
 * One live connection per peer. When two exist (both dialled at once, or a reconnect arrived
 * before the old connection's death was noticed) both sides keep the same one, without talking:
 * the connection dialled by the lower key wins; between two dialled by the same side, the newer
 * wins (that side dials only after it dropped its previous connection, so the newer one is the
 * one it still has). The loser is closed.
 */
export class ConnectionRegistry extends TypedEventEmitter<ConnectionRegistryEvents> {
  readonly #publicKey: Uint8Array
  readonly #log: Logger
  readonly #live = new Map<string, Connection>()
  readonly #sockets = new Map<Connection, DatagramSocket>()
  readonly #since = new WeakMap<Connection, number>()

  constructor(publicKey: Uint8Array, log: Logger) {
    super()
    this.#publicKey = publicKey
    this.#log = log
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
    if (current !== undefined && current.closeReason === undefined) {
      if (this.#rank(connection) < this.#rank(current)) {
        this.#log('%s: keeping the connection dialled by the lower key', hex.slice(0, 8))
        void connection.close().catch(() => {})
        return false
      }
    }
    this.#live.set(hex, connection)
    this.#since.set(connection, Date.now())
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
    if (replaced !== undefined) void replaced.close().catch(() => {})
    return true
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

  /** Closes every live connection (their sockets follow). */
  async closeAll(): Promise<void> {
    await Promise.allSettled(this.all().map((c) => c.close()))
  }

  /** Sockets attached to connections still open (for tests and the doctor). */
  get attachedSockets(): number {
    return this.#sockets.size
  }

  #rank(connection: Connection): number {
    const theirs = connection.remotePublicKey
    const dialledByLower = connection.initiator
      ? isDialer(this.#publicKey, theirs)
      : isDialer(theirs, this.#publicKey)
    return dialledByLower ? 1 : 0
  }

  #closeSocket(connection: Connection): void {
    const socket = this.#sockets.get(connection)
    if (socket === undefined) return
    this.#sockets.delete(connection)
    void socket.close().catch(() => {})
  }
}
