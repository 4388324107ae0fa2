import { HdpError, isHdpError } from '@harddrive-party/wire-protocol'

export type PeerNodeErrorCode =
  /** Another peer-node (this process or another one) holds the storage directory. */
  | 'LOCKED'
  /** A file in the storage directory exists but cannot be read as what it should be. */
  | 'BAD_STORAGE'
  /** The call needs a started node. */
  | 'NOT_STARTED'

/** The one error class of `@harddrive-party/peer-node`; branch on `code`. */
export class PeerNodeError extends HdpError<PeerNodeErrorCode> {
  override name = 'PeerNodeError'
}

/** True for a {@link PeerNodeError} from any installed copy of this package. */
export function isPeerNodeError(err: unknown): err is PeerNodeError {
  return isHdpError(err, 'PeerNodeError')
}

/** One line for people: the error's message, with its cause's when it has one. */
export function describeError(err: unknown): string {
  if (err instanceof Error) {
    const inner = err.cause instanceof Error ? err.cause.message : ''
    return inner && !err.message.includes(inner) ? `${err.message} (${inner})` : err.message
  }
  return String(err)
}
