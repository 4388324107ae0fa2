import { TransportError, type TransportErrorCode } from './errors'
import { CloseCode, decodeCodeAndReason } from './mux-frame'

/** What the remote's CLOSE code means to us. */
const CLOSE_ERRORS: Record<number, [TransportErrorCode, string]> = {
  [CloseCode.NORMAL]: ['CLOSED', 'the remote closed the connection'],
  [CloseCode.REJECTED]: ['REJECTED', 'the remote refused our key'],
  [CloseCode.NOT_TOPIC_MEMBER]: ['NOT_TOPIC_MEMBER', 'the remote did not accept our topic proof'],
  [CloseCode.BAD_HELLO]: ['BAD_HELLO', 'the remote could not use our hello'],
  [CloseCode.PROTOCOL_ERROR]: ['PROTOCOL_ERROR', 'the remote saw a protocol error from us'],
  [CloseCode.SHUTDOWN]: ['CLOSED', 'the remote is shutting down'],
  [CloseCode.TIMEOUT]: ['TIMEOUT', 'the remote timed us out'],
}

/** The error a connection ends with when the remote sent CLOSE with this payload. */
export function remoteCloseError(payload: Uint8Array): TransportError {
  const { code, reason } = decodeCodeAndReason(payload)
  const [errorCode, text] = CLOSE_ERRORS[code] ?? ['CLOSED', 'the remote closed']
  return new TransportError(errorCode, reason ? `${text}: ${reason}` : text)
}

/** The error a connection ends with when its carrier (UDX or TCP stream) failed. */
export function carrierError(err: Error): TransportError {
  const code = (err as NodeJS.ErrnoException).code
  if (code === 'ETIMEDOUT' || /timed out/i.test(err.message)) {
    return new TransportError('TIMEOUT', err.message, { cause: err })
  }
  return new TransportError('CLOSED', `carrier failed: ${err.message}`, { cause: err })
}

/** PING payload: 8 bytes, the nonce in the last four (the remote echoes them in PONG). */
export function pingPayload(nonce: number): Uint8Array {
  const out = new Uint8Array(8)
  new DataView(out.buffer).setUint32(4, nonce)
  return out
}

/** Stream ids are odd from the dialer (initiator) and even from the acceptor. */
export function isLocalId(id: number, initiator: boolean): boolean {
  return id % 2 === (initiator ? 1 : 0)
}
