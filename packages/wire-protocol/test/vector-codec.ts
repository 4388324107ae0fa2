import {
  decodeApiRequest,
  decodeApiServerMessage,
  decodeHello,
  decodeIncomingRequest,
  decodeLsResponse,
  decodePeerRequest,
  decodeReadManyResponse,
  decodeReadResponse,
  decodeRelayRequest,
  decodeRelayResponse,
  decodeWatchResponse,
  encodeApiMessage,
  encodePeerMessage,
  encodeReadManyMessage,
  encodeRelayMessage,
  encodeWatchMessage,
} from '@harddrive-party/wire-protocol'
import { decodeMdnsRecord } from '@harddrive-party/wire-protocol/internal'

/** JSON form of a value with byte strings as `{ "$bytes": "<hex>" }`. */
export function toJson(value: unknown): unknown {
  if (value instanceof Uint8Array) return { $bytes: Buffer.from(value).toString('hex') }
  if (Array.isArray(value)) return value.map(toJson)
  if (value !== null && typeof value === 'object') {
    return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, toJson(v)]))
  }
  return value
}

export function fromJson(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(fromJson)
  if (value !== null && typeof value === 'object') {
    const o = value as Record<string, unknown>
    if (typeof o.$bytes === 'string' && Object.keys(o).length === 1)
      return new Uint8Array(Buffer.from(o.$bytes, 'hex'))
    return Object.fromEntries(Object.entries(o).map(([k, v]) => [k, fromJson(v)]))
  }
  return value
}

/** The decoders a vector can name, and the encoder that writes that kind. */
export const codecs = {
  hello: { decode: decodeHello, encode: encodePeerMessage },
  'peer-request': { decode: decodePeerRequest, encode: encodePeerMessage },
  'ls-response': { decode: decodeLsResponse, encode: encodePeerMessage },
  'read-response': { decode: decodeReadResponse, encode: encodePeerMessage },
  'incoming-request': { decode: decodeIncomingRequest, encode: encodeWatchMessage },
  'read-many-response': { decode: decodeReadManyResponse, encode: encodeReadManyMessage },
  'watch-response': { decode: decodeWatchResponse, encode: encodeWatchMessage },
  'relay-request': { decode: decodeRelayRequest, encode: encodeRelayMessage },
  'relay-response': { decode: decodeRelayResponse, encode: encodeRelayMessage },
  'api-request': { decode: decodeApiRequest, encode: encodeApiMessage },
  'api-server-message': { decode: decodeApiServerMessage, encode: encodeApiMessage },
} as const satisfies Record<
  string,
  { decode: (b: Uint8Array) => unknown; encode: (v: never) => Uint8Array }
>

export type CodecName = keyof typeof codecs

export { decodeMdnsRecord }
