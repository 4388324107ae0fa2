import type { Logger } from '@harddrive-party/wire-protocol'
import { type DatagramSocket, formatAddress } from './datagram-socket'
import { HolepunchError } from './errors'
import { STUN_DEFAULTS, type StunRetransmitOptions } from './stun-client'
import type { TurnMessage } from './turn-message'
import type { TurnServer } from './turn-server'

/** A request waiting for its answer. */
export interface Pending {
  resolve(message: TurnMessage): void
  reject(err: unknown): void
  /** The key the request was authenticated with: a success must carry its MESSAGE-INTEGRITY. */
  key: Uint8Array | undefined
  /** Successes dropped for a bad or missing MESSAGE-INTEGRITY (a timeout then says so). */
  badIntegrity: number
}

/** Requests in flight at most (a refresh storm or a stuck server cannot grow this). */
const MAX_PENDING = 32

/**
 * The TURN client's requests in flight: RFC 8489 §6.2.1 retransmission of each until an answer
 * (matched by transaction id by the caller) or the last timeout, which is `TURN_TIMEOUT`, or
 * `TURN_UNAUTHORIZED` when every answer failed MESSAGE-INTEGRITY.
 */
export class TurnTransactions {
  readonly #pending = new Map<string, Pending>()

  constructor(
    readonly options: StunRetransmitOptions & { server: TurnServer; socket: DatagramSocket },
    readonly log: Logger,
  ) {}

  get(transactionId: Uint8Array): Pending | undefined {
    return this.#pending.get(hex(transactionId))
  }

  rejectAll(reason: Error): void {
    for (const p of [...this.#pending.values()]) p.reject(reason)
    this.#pending.clear()
  }

  start(
    request: Uint8Array,
    tid: Uint8Array,
    key: Uint8Array | undefined,
    closing: boolean,
  ): Promise<TurnMessage> {
    if (this.#pending.size >= MAX_PENDING) {
      return Promise.reject(new HolepunchError('RATE_LIMITED', 'too many TURN requests in flight'))
    }
    const rtoMs = this.options.rtoMs ?? STUN_DEFAULTS.rtoMs
    const maxRequests = closing ? 2 : (this.options.maxRequests ?? STUN_DEFAULTS.maxRequests)
    const lastWait = closing ? 2 : (this.options.lastWaitFactor ?? STUN_DEFAULTS.lastWaitFactor)
    const id = hex(tid)
    const { server, socket } = this.options
    return new Promise<TurnMessage>((resolve, reject) => {
      let requests = 0
      let timer: ReturnType<typeof setTimeout> | undefined
      const finish = (): void => {
        clearTimeout(timer)
        this.#pending.delete(id)
      }
      const pending: Pending = {
        key,
        badIntegrity: 0,
        resolve: (m) => {
          finish()
          resolve(m)
        },
        reject: (e) => {
          finish()
          reject(e)
        },
      }
      const transmit = (): void => {
        requests++
        socket.send(request, server.port, server.host).catch((err: unknown) => {
          this.log('send to %s failed: %O', formatAddress(server), err)
        })
        const waitMs = requests < maxRequests ? rtoMs * 2 ** (requests - 1) : rtoMs * lastWait
        timer = setTimeout(() => {
          if (requests < maxRequests) return transmit()
          pending.reject(
            pending.badIntegrity > 0
              ? new HolepunchError(
                  'TURN_UNAUTHORIZED',
                  `${pending.badIntegrity} answer(s) from ${formatAddress(server)} failed MESSAGE-INTEGRITY`,
                )
              : new HolepunchError(
                  'TURN_TIMEOUT',
                  `no answer from TURN server ${formatAddress(server)} after ${requests} requests`,
                ),
          )
        }, waitMs)
      }
      this.#pending.set(id, pending)
      transmit()
    })
  }
}

function hex(bytes: Uint8Array): string {
  return Buffer.from(bytes).toString('hex')
}
