import { decodeCbor, encodeCbor } from './cbor'
import { asFields, field, uint } from './check'
import { WireError } from './errors'
import {
  decodeLsResponse,
  decodePeerRequest,
  type ErrorMessage,
  type PeerRequest,
} from './peer-messages'
import { decodeReadManyRequest, type ReadManyRequest } from './read-many'
import { decodeRelayRequest, type RelayedRequest, type RelayRequest } from './relay-messages'

/**
 * Share-change notices (protocol 1.x addition, docs/protocol.md §7.4). A requester that caches
 * a peer's listings opens one stream with a `watch` request; the server answers at once with
 * its current `shares-changed` version, then with a new one each time its shares change, and
 * keeps the stream open. Kept out of `peer-messages.ts` so that file's decoders stay as they
 * are; {@link decodeIncomingRequest} is what a server decodes a request stream's first frame with.
 */

/** Asks to be told when the server's shares change (answered on the same stream, which stays open). */
export interface WatchRequest {
  type: 'watch'
}

/**
 * The server's share version: a number that changes whenever the shares change (rescan, add,
 * remove). A requester drops its cached listings of that peer when the number differs from
 * the one it cached them under. Only equality is meaningful.
 */
export interface SharesChangedMessage {
  type: 'shares-changed'
  version: number
}

export type WatchResponse = SharesChangedMessage | ErrorMessage

/**
 * A request a server can receive: `ls`, `read`, `read-many`, `watch`, or a relay's `relay` /
 * `relayed`.
 */
export type IncomingRequest =
  | PeerRequest
  | ReadManyRequest
  | WatchRequest
  | RelayRequest
  | RelayedRequest

export function encodeWatchMessage(message: WatchRequest | WatchResponse): Uint8Array {
  return encodeCbor(message)
}

/**
 * Decodes the first frame of a request stream: `watch` here, `read-many` by
 * `decodeReadManyRequest`, `relay` / `relayed` by {@link decodeRelayRequest}, `ls` and `read`
 * by {@link decodePeerRequest} (same errors).
 */
export function decodeIncomingRequest(buf: Uint8Array): IncomingRequest {
  const m = asFields(decodeCbor(buf), 'request')
  const type = field(m, 'type')
  if (type === 'watch') return { type: 'watch' }
  if (type === 'read-many') return decodeReadManyRequest(m)
  if (type === 'relay' || type === 'relayed') return decodeRelayRequest(buf)
  return decodePeerRequest(buf)
}

/** Decodes a frame answering `watch`. */
export function decodeWatchResponse(buf: Uint8Array): WatchResponse {
  const m = asFields(decodeCbor(buf), 'watch response')
  const type = field(m, 'type')
  if (type === 'shares-changed') {
    return { type: 'shares-changed', version: uint(m, 'version', 'shares-changed') }
  }
  if (type === 'error') {
    // Same error message as every answer: reuse its decoder.
    const error = decodeLsResponse(buf)
    if (error.type === 'error') return error
  }
  if (typeof type !== 'string')
    throw new WireError('BAD_FIELD', 'watch response.type must be a string')
  throw new WireError('UNKNOWN_MESSAGE', `unexpected watch response type "${type.slice(0, 64)}"`)
}
