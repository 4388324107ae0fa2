import type { Connection, TopicKeys } from '@harddrive-party/transport'
import { describeError } from '../errors'
import type { AttemptInfo } from './peer-state'

/** What one relayed attempt needs from the connector. */
export interface RelayAttempt {
  key: Uint8Array
  weDial: boolean
  info: AttemptInfo
  signal: AbortSignal
  /** Dials through a relay; absent: the node has no relay room (then nothing can work). */
  dial?: (key: Uint8Array, topic: TopicKeys, signal: AbortSignal) => Promise<Connection>
  /** Records a connection we made (the registry decides whether it is the live one). */
  connected: (connection: Connection) => void
  /** Waits for the peer's relayed connection to us (undefined when none came in time). */
  waitForDial: () => Promise<Connection | undefined>
  startedAt: number
}

/**
 * No technique can work (hard↔hard without a mapping or IPv6): the dialer (lower key) asks a
 * member that relays to join it to the peer; the other side waits for that connection. The
 * reason the plan gave stays in the failure when no relay could help.
 */
export async function viaRelay(
  attempt: RelayAttempt,
  topic: TopicKeys,
  unreachable: string,
): Promise<void> {
  const { info } = attempt
  if (attempt.dial === undefined) throw new Error(unreachable)
  info.tried.push('relay')
  if (attempt.weDial) {
    let connection: Connection
    try {
      connection = await attempt.dial(attempt.key, topic, attempt.signal)
    } catch (err) {
      if (attempt.signal.aborted) throw attempt.signal.reason
      throw new Error(`${unreachable}; relay: ${describeError(err)}`, { cause: err })
    }
    attempt.connected(connection)
    return
  }
  const connection = await attempt.waitForDial()
  if (connection === undefined) {
    throw new Error(`${unreachable}; the peer did not reach us through a relay`)
  }
  info.used = connection.carrier === 'relay' ? 'relay' : 'accepted'
  info.elapsedMs = Date.now() - attempt.startedAt
  delete info.failure
}
