import { HdpError, isHdpError } from '@harddrive-party/wire-protocol'

export type HolepunchErrorCode =
  /** A STUN server did not answer one Binding request after every retransmission. */
  | 'STUN_TIMEOUT'
  /** A STUN server answered with an error response (the STUN error code is in the message). */
  | 'STUN_ERROR_RESPONSE'
  /** A STUN response was malformed, or carried an attribute we must understand but do not. */
  | 'STUN_BAD_RESPONSE'
  /** A STUN server name did not resolve, or a server entry is not `host:port`. */
  | 'STUN_BAD_SERVER'
  /** The remote peer announced no address we can send to with the chosen technique. */
  | 'NO_REMOTE_ADDRESS'
  /**
   * Too many punch attempts towards this IP, or overall, or too many birthday attempts queued
   * (`PUNCH_LIMITS`): an announcement cannot make us send more than a bounded number of packets.
   */
  | 'RATE_LIMITED'
  /** No two-way exchange within the attempt's time and packet budget. */
  | 'PUNCH_TIMEOUT'
  /** Both sides are behind endpoint-dependent NATs that hole punching cannot cross: use a relay. */
  | 'RELAY_REQUIRED'
  /** The birthday method's hard side needs a `createSocket` factory and none was given. */
  | 'NO_SOCKET_FACTORY'
  /** Not one extra socket could be created for the birthday method. */
  | 'SOCKET_FAILED'
  /** `detectNat` or `punch` was called before `start()` or after `stop()`. */
  | 'NOT_STARTED'
  /** A TURN server URL is not `turn://user:pass@host:port`, or its host is not an IP literal. */
  | 'TURN_BAD_SERVER'
  /** A TURN server did not answer a request after every retransmission. */
  | 'TURN_TIMEOUT'
  /**
   * The TURN server refused our credentials (401 after we sent them, or more stale-nonce
   * rounds than allowed), or its answers failed MESSAGE-INTEGRITY (a server without our key).
   */
  | 'TURN_UNAUTHORIZED'
  /** A TURN server answered with an error response (the code is in the message). */
  | 'TURN_ERROR_RESPONSE'
  /** A TURN message was malformed: oversized or broken attribute, missing address, bad family. */
  | 'TURN_BAD_RESPONSE'
  /** The TURN allocation is closed (stopped, or its refresh failed). */
  | 'TURN_CLOSED'

/** The one error class of `@harddrive-party/holepunch`; branch on `code`. */
export class HolepunchError extends HdpError<HolepunchErrorCode> {
  override name = 'HolepunchError'
}

export function isHolepunchError(err: unknown): err is HolepunchError {
  return isHdpError(err, 'HolepunchError')
}
