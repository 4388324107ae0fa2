import { HdpError, type PeerErrorCode } from '@harddrive-party/wire-protocol'

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

/** The error class of peer-node; branch on `code` (see {@link PeerNodeErrorCode}). */
export class PeerNodeError extends HdpError<PeerNodeErrorCode> {
  override name = 'PeerNodeError'
}

/** The error a remote peer's `error` frame stands for. */
export function remoteError(code: PeerErrorCode, message: string): PeerNodeError {
  return new PeerNodeError(code, `peer answered: ${message}`)
}
