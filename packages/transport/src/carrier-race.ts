import type { PeerConnection } from './connection'
import { isTransportError, TransportError, type TransportErrorCode } from './errors'
import type { Carrier } from './types'

/**
 * A TCP connect (one round trip: SYN, SYN-ACK) faster than this means a LAN or this host,
 * where TCP wins: the kernel's TCP costs less CPU per byte than UDX in userspace, and a LAN
 * has neither the round trip nor the random loss that hold loss-based TCP back.
 */
export const LAN_RTT_MS = 5

/** What one attempt reports while it runs: the TCP attempt, its connect time. */
export interface AttemptProgress {
  connected(rttMs: number): void
}

type Run = (
  carrier: Carrier,
  signal: AbortSignal,
  progress: AttemptProgress,
) => Promise<PeerConnection>

/**
 * Runs one attempt per carrier and keeps one connection, chosen deliberately rather than by
 * whichever handshake finished first:
 * - TCP when its connect took less than {@link LAN_RTT_MS} (LAN, loopback);
 * - UDX otherwise: on a path with real round trips or random loss, loss-based TCP falls to a
 *   few percent of the link (the Mathis limit) while UDX keeps most of it (issue 12).
 * A connection that is ready while the preferred carrier still works is held for about as
 * long again (at least 20 ms); when the preferred one fails or is late, the held one is used.
 * The others are cancelled.
 */
export async function raceCarriers(
  carriers: readonly Carrier[],
  run: Run,
  signal: AbortSignal,
): Promise<PeerConnection> {
  if (carriers.length === 0) throw new TypeError('no carrier to dial with')
  const started = performance.now()
  const controllers = carriers.map(() => new AbortController())
  let rejectRace: ((err: unknown) => void) | undefined
  const onAbort = () => {
    for (const c of controllers) c.abort(signal.reason)
    if (winner === undefined && held !== undefined) rejectRace?.(signal.reason)
  }
  signal.addEventListener('abort', onAbort, { once: true })
  // Until TCP connects, UDX is preferred: a TCP connect slower than a whole UDX handshake is
  // no LAN (or TCP is blocked).
  let preferred: Carrier = carriers.includes('udx') ? 'udx' : carriers[0]!
  const failed = new Set<Carrier>()
  let held: { carrier: Carrier; connection: PeerConnection; timer: NodeJS.Timeout } | undefined
  let winner: PeerConnection | undefined
  const errors: unknown[] = []
  try {
    await new Promise<void>((resolve, reject) => {
      rejectRace = reject
      const choose = (carrier: Carrier, connection: PeerConnection) => {
        winner = connection
        if (held !== undefined) {
          clearTimeout(held.timer)
          if (held.connection !== connection) held.connection.destroy()
          held = undefined
        }
        controllers.forEach((c, j) => {
          if (carriers[j] !== carrier) c.abort(new TransportError('CLOSED', `${carrier} chosen`))
        })
        resolve()
      }
      const settleIfDone = () => {
        if (winner !== undefined) return
        if (held !== undefined && (held.carrier === preferred || failed.has(preferred))) {
          choose(held.carrier, held.connection)
        } else if (held === undefined && failed.size === carriers.length) {
          reject(mostTelling(errors, signal))
        }
      }
      carriers.forEach((carrier, i) => {
        const progress: AttemptProgress = {
          connected: (rttMs) => {
            if (carrier === 'tcp' && rttMs < LAN_RTT_MS) preferred = 'tcp'
          },
        }
        run(carrier, controllers[i]!.signal, progress).then(
          (connection) => {
            if (winner !== undefined || signal.aborted || held !== undefined) {
              // A second connection while one is held: it is the preferred one, or neither is.
              if (winner === undefined && !signal.aborted && carrier === preferred) {
                choose(carrier, connection)
              } else {
                connection.destroy()
              }
              return
            }
            const graceMs = Math.max(20, performance.now() - started)
            held = {
              carrier,
              connection,
              timer: setTimeout(() => choose(carrier, connection), graceMs),
            }
            settleIfDone()
          },
          (err) => {
            errors.push(err)
            failed.add(carrier)
            settleIfDone()
          },
        )
      })
    })
  } finally {
    signal.removeEventListener('abort', onAbort)
    if (held !== undefined) {
      // Aborted while holding: nobody takes it.
      clearTimeout(held.timer)
      if (held.connection !== winner) held.connection.destroy()
    }
  }
  return winner!
}

const ERROR_RANK: TransportErrorCode[] = [
  'PEER_KEY_MISMATCH',
  'RATE_LIMITED',
  'HANDSHAKE_FAILED',
  'TIMEOUT',
  'CLOSED',
]

/** Of several failed attempts, the error that tells the caller most. */
function mostTelling(errors: unknown[], signal: AbortSignal): unknown {
  if (signal.aborted) return signal.reason
  for (const code of ERROR_RANK) {
    const found = errors.find((e) => isTransportError(e) && e.code === code)
    if (found !== undefined) return found
  }
  return errors[0]
}
