import { TransportError, type TransportErrorCode } from './errors'
import { CloseCode, decodeCodeAndReason, FrameType, ResetCode, readU32 } from './mux-frame'
import type { MuxStream } from './mux-stream'

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

/** Frame types addressed to one stream (OPEN excepted: it creates the stream). */
export function isStreamFrame(type: number): boolean {
  return (
    (type >= FrameType.DATA && type <= FrameType.WINDOW) ||
    type === FrameType.BLOCKED ||
    type === FrameType.STOP
  )
}

/**
 * Hands one stream frame to its stream. Returns the protocol violation in words when the frame
 * breaks the rules (the connection then closes), undefined when it was taken.
 */
export function deliverStreamFrame(
  stream: MuxStream,
  type: number,
  payload: Uint8Array,
): string | undefined {
  const id = stream.id
  switch (type) {
    case FrameType.DATA:
      // An empty frame moves no bytes but costs a queue entry: never legitimate (issue 9.2).
      if (payload.length === 0) return `empty data frame on stream ${id}`
      return stream.receiveData(payload) ? undefined : `stream ${id} overran its window`
    case FrameType.END:
      return stream.receiveEnd() ? undefined : `stream ${id} ended twice`
    case FrameType.BLOCKED:
      stream.receiveBlocked()
      return undefined
    case FrameType.STOP:
      stream.receiveStop()
      return undefined
    case FrameType.WINDOW:
      if (payload.length !== 4 || !stream.receiveWindow(readU32(payload, 0)))
        return `bad window update on stream ${id}`
      return undefined
    case FrameType.RESET: {
      const { code, reason } = decodeCodeAndReason(payload)
      stream.fail(
        code === ResetCode.REFUSED
          ? new TransportError('STREAM_REFUSED', `the remote refused stream ${id}: ${reason}`)
          : new TransportError('RESET', `the remote reset stream ${id}: ${reason}`),
      )
      return undefined
    }
  }
  return undefined
}
