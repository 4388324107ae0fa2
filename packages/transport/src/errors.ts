import { HdpError, isHdpError } from '@harddrive-party/wire-protocol'

export type TransportErrorCode =
  /** The Noise handshake did not complete (bad bytes, carrier closed, wrong protocol). */
  | 'HANDSHAKE_FAILED'
  /** The remote proved a different public key from the one we dialled for. */
  | 'PEER_KEY_MISMATCH'
  /** The acceptor's firewall refused our key. */
  | 'REJECTED'
  /** The remote's hello could not be decoded, or speaks another protocol major version. */
  | 'BAD_HELLO'
  /** The remote could not prove membership of the topic (or refused ours). */
  | 'NOT_TOPIC_MEMBER'
  /** The remote refused the attempt: too many handshakes from our address. */
  | 'RATE_LIMITED'
  /** No answer in time: connect timeout, or a peer silent for longer than the idle timeout. */
  | 'TIMEOUT'
  /** The remote reset (aborted) the stream. */
  | 'RESET'
  /** The remote refused a new stream (its limit of open or unaccepted streams is reached). */
  | 'STREAM_REFUSED'
  /** The connection, stream or socket is closed (by either side, or by `stop()`). */
  | 'CLOSED'
  /** The remote broke the multiplexing rules (flow-control window, unknown stream, bad frame). */
  | 'PROTOCOL_ERROR'
  /** The call needs a started transport. */
  | 'NOT_STARTED'
  /** A socket could not be bound, or a datagram could not be sent. */
  | 'SOCKET_ERROR'
  /** The identity file exists but is not a valid ed25519 key pair. */
  | 'BAD_IDENTITY'

/** The one error class of `@harddrive-party/transport`; branch on `code`. */
export class TransportError extends HdpError<TransportErrorCode> {
  override name = 'TransportError'
}

/** True for a {@link TransportError} from any installed copy of this package. */
export function isTransportError(err: unknown): err is TransportError {
  return isHdpError(err, 'TransportError')
}

/** True for a {@link TransportError} with the given code. */
export function hasTransportCode(err: unknown, code: TransportErrorCode): boolean {
  return isTransportError(err) && err.code === code
}
