import { HdpError, isHdpError, type PeerErrorCode } from '@harddrive-party/wire-protocol'

export type PeerNodeErrorCode =
  // What a remote peer answered (wire-protocol error codes, docs/protocol.md §7.3):
  /** No such path in the peer's index, or it left the disk. */
  | 'NOT_FOUND'
  /** The peer could not serve a well-formed request (offset beyond the end, a directory read). */
  | 'BAD_REQUEST'
  /** The file's size or mtime differ from `expect`: restart it from zero. */
  | 'CHANGED'
  /** The answer would exceed a limit. */
  | 'TOO_LARGE'
  /** The peer has too many of our requests already (or no room in its queue): retry later. */
  | 'BUSY'
  /** The path leads outside its share (a symlink), or we are not allowed. */
  | 'FORBIDDEN'
  /** The peer speaks another protocol major version. */
  | 'UNSUPPORTED_VERSION'
  /** The peer failed for a reason it keeps in its own log. */
  | 'INTERNAL'
  // Found on our side:
  /** A path we were asked to send is not a valid share path (`..`, absolute, NUL...). */
  | 'BAD_PATH'
  /** The peer's answer broke the protocol (malformed frame, wrong message, too many bytes). */
  | 'BAD_RESPONSE'
  /** The stream or connection ended before the answer was complete. */
  | 'INTERRUPTED'
  /** An option is out of range. */
  | 'INVALID_OPTIONS'
  // This node's own:
  /** Another peer-node (this process or another one) holds the storage directory. */
  | 'LOCKED'
  /** A file in the storage directory exists but cannot be read as what it should be. */
  | 'BAD_STORAGE'
  /** No live connection to that peer now. */
  | 'NOT_CONNECTED'
  /** The call needs a started node. */
  | 'NOT_STARTED'
  /** A remote name cannot be written safely (outside the folder, a symlink in the way...). */
  | 'UNSAFE_NAME'
  /** No space left on the download disk: the download queue halted. */
  | 'DISK_FULL'
  /** No download request with that id. */
  | 'UNKNOWN_DOWNLOAD'

/** The one error class of `@harddrive-party/peer-node`; branch on `code` (see {@link PeerNodeErrorCode}). */
export class PeerNodeError extends HdpError<PeerNodeErrorCode> {
  override name = 'PeerNodeError'
}

/** The error a remote peer's `error` frame stands for. */
export function remoteError(code: PeerErrorCode, message: string): PeerNodeError {
  return new PeerNodeError(code, `peer answered: ${message}`)
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
