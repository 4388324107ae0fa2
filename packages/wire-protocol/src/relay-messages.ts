import { decodeCbor, encodeCbor } from './cbor'
import { asFields, bytes, field } from './check'
import { WireError } from './errors'
import { decodeLsResponse, type ErrorMessage } from './peer-messages'

/**
 * Blind relay (protocol 1.x addition, docs/protocol.md §7.5). Two members that cannot reach
 * each other (both behind hard NATs) meet through a member both are connected to that relays:
 * the one with the lower key opens a stream to the relay with a `relay` request naming the
 * other; the relay answers `relay-ok` (or `error`), opens a stream to the other member with a
 * `relayed` request naming the asker, and from then on copies bytes between the two streams.
 * The two ends run a whole new connection (Noise, hellos, multiplexer) inside them, so the
 * relay forwards ciphertext only.
 */

/** Asks the relay to join this stream to its connection with `to` (first frame of a stream). */
export interface RelayRequest {
  type: 'relay'
  /** The member to reach: a 32-byte ed25519 public key. */
  to: Uint8Array
}

/** The relay tells `to` that the stream carries a connection from `from` (first frame). */
export interface RelayedRequest {
  type: 'relayed'
  /** Who asked: the key the relay authenticated (the connection inside proves it again). */
  from: Uint8Array
}

/** The relay accepted: the stream's following bytes go to and come from the other member. */
export interface RelayAccepted {
  type: 'relay-ok'
}

export type RelayResponse = RelayAccepted | ErrorMessage

export function encodeRelayMessage(
  message: RelayRequest | RelayedRequest | RelayResponse,
): Uint8Array {
  return encodeCbor(message)
}

/** Decodes a `relay` or `relayed` request; other types are `UNKNOWN_MESSAGE`. */
export function decodeRelayRequest(buf: Uint8Array): RelayRequest | RelayedRequest {
  const m = asFields(decodeCbor(buf), 'relay request')
  const type = field(m, 'type')
  if (type === 'relay') return { type: 'relay', to: bytes(m, 'to', 'relay', { min: 32, max: 32 }) }
  if (type === 'relayed') {
    return { type: 'relayed', from: bytes(m, 'from', 'relayed', { min: 32, max: 32 }) }
  }
  throw new WireError(
    'UNKNOWN_MESSAGE',
    `unexpected relay request type "${String(type).slice(0, 64)}"`,
  )
}

/** Decodes the relay's answer to `relay`. */
export function decodeRelayResponse(buf: Uint8Array): RelayResponse {
  const m = asFields(decodeCbor(buf), 'relay response')
  const type = field(m, 'type')
  if (type === 'relay-ok') return { type: 'relay-ok' }
  if (type === 'error') {
    const error = decodeLsResponse(buf) // the same error message as every answer
    if (error.type === 'error') return error
  }
  if (typeof type !== 'string')
    throw new WireError('BAD_FIELD', 'relay response.type must be a string')
  throw new WireError('UNKNOWN_MESSAGE', `unexpected relay response type "${type.slice(0, 64)}"`)
}
