import {
  decodeHello,
  encodeFrame,
  encodePeerMessage,
  FrameDecoder,
  type Hello,
  isWireError,
  PROTOCOL_VERSION,
} from '@harddrive-party/wire-protocol'
import { TransportError } from './errors'

/** A hello is a few dozen bytes; anything near this is not one. */
const MAX_HELLO_BYTES = 4096

/** The HELLO frame's payload: the wire-protocol hello, length-prefixed like every message. */
export function encodeHelloPayload(proof: Uint8Array, agent: string | undefined): Uint8Array {
  const hello: Hello = { type: 'hello', version: PROTOCOL_VERSION, proof }
  if (agent !== undefined) hello.agent = agent
  return encodeFrame(encodePeerMessage(hello), { maxFrameBytes: MAX_HELLO_BYTES })
}

/** Decodes a HELLO frame's payload; anything else is `BAD_HELLO`. */
export function decodeHelloPayload(payload: Uint8Array): Hello {
  try {
    const decoder = new FrameDecoder({ maxFrameBytes: MAX_HELLO_BYTES })
    decoder.push(payload)
    const frame = decoder.nextFrame()
    if (frame === undefined || decoder.bufferedBytes !== 0) {
      throw new TransportError('BAD_HELLO', 'hello is not exactly one frame')
    }
    return decodeHello(frame)
  } catch (err) {
    if (err instanceof TransportError) throw err
    const detail = isWireError(err) ? err.message : String(err)
    throw new TransportError('BAD_HELLO', `undecodable hello: ${detail}`, { cause: err })
  }
}
