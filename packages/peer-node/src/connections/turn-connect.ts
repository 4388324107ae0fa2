import type { Connection, Transport } from '@harddrive-party/transport'
import type { Announcement, SocketAddress, TopicKeys } from '@harddrive-party/wire-protocol'
import { describeError } from '../errors'
import type { ConnectionRegistry } from './connection-registry'
import type { DialAddress } from './technique'

/** Our TURN allocation as the connector sees it (peer-node's `TurnRelays`). */
export interface TurnAccess {
  /** Our relayed address, while we hold one (and announce it). */
  relayed(): SocketAddress | undefined
  /** Lets these IPs send to our relayed address. */
  permit(hosts: readonly string[]): Promise<void>
}

export type TurnPlan =
  /** Dial the peer's relayed address. */
  | { role: 'dial'; address: DialAddress }
  /** Permit the peer's public IPs on our allocation and wait for its dial. */
  | { role: 'accept'; permit: string[] }

/**
 * Who uses TURN when punching cannot work, identically on both sides: the side holding a
 * relayed address accepts and the other dials it; when both hold one, the dialer (lower key)
 * dials the acceptor's. Undefined: neither holds one (then it stays `RELAY_REQUIRED`).
 */
export function planTurn(input: {
  ourRelayed: SocketAddress | undefined
  remote: Pick<Announcement, 'relayed' | 'addresses'>
  weDial: boolean
}): TurnPlan | undefined {
  const { ourRelayed, remote, weDial } = input
  if (remote.relayed !== undefined && (ourRelayed === undefined || weDial)) {
    return { role: 'dial', address: { host: remote.relayed.host, port: remote.relayed.port } }
  }
  if (ourRelayed === undefined) return undefined
  // The peer's datagrams reach the relay from its NAT's public IP (any port: a hard NAT picks).
  const permit = remote.addresses
    .filter((a) => a.kind === 'public' && !a.host.includes(':'))
    .map((a) => a.host)
  return permit.length > 0
    ? { role: 'accept', permit: [...new Set(permit)].slice(0, 4) }
    : undefined
}

export interface TurnConnectContext {
  transport: Transport
  registry: ConnectionRegistry
  turn?: TurnAccess | undefined
  key: Uint8Array
  hex: string
  topic: TopicKeys
  signal: AbortSignal
  /** The live connection before this attempt (a replaced one does not count as the dial). */
  before: Connection | undefined
  /** How long the dial and the wait may take. */
  timeoutMs: number
  /** Called when the phase changes (the connector's `dial` / `wait`). */
  phase(phase: 'dial' | 'wait'): void
}

/**
 * Connects through a TURN relay: dials the peer's relayed address, or permits the peer on ours
 * and waits for its connection. Resolves with the connection and whether we dialled it (then it
 * is still to be registered; an accepted one is registered already). Throws with the reason.
 */
export async function connectViaTurn(
  plan: TurnPlan,
  c: TurnConnectContext,
): Promise<{ connection: Connection; dialled: boolean }> {
  if (plan.role === 'dial') {
    c.phase('dial')
    const timeout = AbortSignal.timeout(c.timeoutMs)
    try {
      // UDX only: the relay forwards UDP; the peer may permit us a moment after our first packet,
      // which UDX retransmits.
      const connection = await c.transport.dial(plan.address, c.key, {
        topic: c.topic,
        carriers: ['udx'],
        signal: AbortSignal.any([c.signal, timeout]),
      })
      return { connection, dialled: true }
    } catch (err) {
      if (c.signal.aborted) throw c.signal.reason
      const why = timeout.aborted ? `no answer within ${c.timeoutMs} ms` : describeError(err)
      throw new Error(`turn: dial ${plan.address.host}:${plan.address.port}: ${why}`, {
        cause: err,
      })
    }
  }
  if (c.turn === undefined) throw new Error('turn: no TURN allocation')
  await c.turn.permit(plan.permit)
  c.phase('wait')
  const connection = await c.registry.waitFor(c.hex, c.timeoutMs, c.signal, c.before)
  if (connection === undefined) {
    throw new Error(`turn: the peer did not dial our relayed address within ${c.timeoutMs} ms`)
  }
  return { connection, dialled: false }
}
