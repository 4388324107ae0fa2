import { randomBytes } from 'node:crypto'
import type { Logger } from '@harddrive-party/wire-protocol'
import {
  type DatagramSocket,
  formatAddress,
  type SocketAddress,
  sameAddress,
} from './datagram-socket'
import { HolepunchError } from './errors'
import { defaultLogger } from './logger'
import {
  decodeBindingResponse,
  encodeBindingRequest,
  isStunMessage,
  STUN_TRANSACTION_ID_BYTES,
  type StunResponse,
  stunTransactionId,
} from './stun-message'

/** RFC 8489 §6.2.1 retransmission parameters. */
export interface StunRetransmitOptions {
  /** Initial retransmission timeout; doubles after each request. Default 500 (the RFC's floor). */
  rtoMs?: number
  /** Rc: how many requests are sent in all. Default 7. */
  maxRequests?: number
  /** Rm: after the last request, wait `lastWaitFactor × rtoMs`. Default 16. */
  lastWaitFactor?: number
}

export interface StunBindingOptions extends StunRetransmitOptions {
  signal?: AbortSignal
}

export interface StunBinding {
  /** The server that answered (the address the request went to and the answer came from). */
  server: SocketAddress
  /** Our address as the server saw it: the NAT mapping for this destination. */
  mapped: SocketAddress
  /** RFC 5780 OTHER-ADDRESS of the server, when it has an alternate IP and port. */
  otherAddress?: SocketAddress
  /** Time from the first request to the answer. */
  elapsedMs: number
  /** Requests sent (1 unless some were retransmitted). */
  requests: number
}

export const STUN_DEFAULTS = { rtoMs: 500, maxRequests: 7, lastWaitFactor: 16 } as const

/**
 * Sends one STUN Binding request from `socket` to `server` (an IP literal and port), retransmitting
 * per RFC 8489, and resolves with the mapped address. Only a response from `server` itself that
 * carries our transaction id is accepted; anything else on the socket is ignored.
 * Rejects with `STUN_TIMEOUT`, `STUN_ERROR_RESPONSE`, `STUN_BAD_RESPONSE`, or the signal's reason.
 */
export async function stunBinding(
  socket: DatagramSocket,
  server: SocketAddress,
  options: StunBindingOptions = {},
  log: Logger = defaultLogger('stun'),
): Promise<StunBinding> {
  const { signal } = options
  signal?.throwIfAborted()
  const rtoMs = options.rtoMs ?? STUN_DEFAULTS.rtoMs
  const maxRequests = options.maxRequests ?? STUN_DEFAULTS.maxRequests
  const lastWaitFactor = options.lastWaitFactor ?? STUN_DEFAULTS.lastWaitFactor
  if (!(rtoMs > 0) || !(maxRequests >= 1) || !(lastWaitFactor > 0)) {
    throw new TypeError('rtoMs, maxRequests and lastWaitFactor must be positive')
  }
  const transactionId = new Uint8Array(randomBytes(STUN_TRANSACTION_ID_BYTES))
  const request = encodeBindingRequest(transactionId)
  const where = formatAddress(server)

  return new Promise<StunBinding>((resolve, reject) => {
    const started = performance.now()
    let requests = 0
    let timer: ReturnType<typeof setTimeout> | undefined
    let unsubscribe: (() => void) | undefined

    const done = (): void => {
      clearTimeout(timer)
      unsubscribe?.()
      signal?.removeEventListener('abort', onAbort)
    }
    const onAbort = (): void => {
      done()
      reject(signal?.reason)
    }

    const transmit = (): void => {
      requests++
      socket.send(request, server.port, server.host).catch((err: unknown) => {
        // A lost request is what retransmission is for; keep going.
        log('send to %s failed: %O', where, err)
      })
      // Request i (1-based) is followed by a wait of RTO·2^(i-1); the last one by Rm·RTO.
      const waitMs = requests < maxRequests ? rtoMs * 2 ** (requests - 1) : rtoMs * lastWaitFactor
      timer = setTimeout(() => {
        if (requests < maxRequests) return transmit()
        done()
        reject(
          new HolepunchError(
            'STUN_TIMEOUT',
            `no answer from STUN server ${where} after ${requests} requests`,
          ),
        )
      }, waitMs)
    }

    const onMessage = (data: Uint8Array, from: SocketAddress): void => {
      if (!isStunMessage(data) || !equalBytes(stunTransactionId(data), transactionId)) return
      if (!sameAddress(from, server)) {
        log('ignored a response for our transaction from %s, not %s', formatAddress(from), where)
        return
      }
      let response: StunResponse | undefined
      try {
        response = decodeBindingResponse(data)
      } catch (err) {
        done()
        reject(err)
        return
      }
      if (response === undefined) return
      done()
      if (response.kind === 'error') {
        reject(
          new HolepunchError(
            'STUN_ERROR_RESPONSE',
            `STUN server ${where} answered ${response.code} ${response.reason}`,
          ),
        )
        return
      }
      const result: StunBinding = {
        server: { ...server },
        mapped: response.mapped,
        elapsedMs: performance.now() - started,
        requests,
      }
      if (response.otherAddress !== undefined) result.otherAddress = response.otherAddress
      resolve(result)
    }

    signal?.addEventListener('abort', onAbort, { once: true })
    unsubscribe = socket.onMessage(onMessage)
    transmit()
  })
}

function equalBytes(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false
  return true
}
