import { Decoder, Encoder } from 'cbor-x'
import { scanCbor } from './cbor-scan'
import { WireError } from './errors'
import { utf8Length } from './utf8'

// Plain CBOR only: no cbor-x records or structured-clone extensions, so a second
// implementation needs nothing but a standard CBOR library. `variableMapSize` gives the
// shortest map headers; with the key sort below the encoding is deterministic (RFC 8949 §4.2.1).
const encoder = new Encoder({
  useRecords: false,
  mapsAsObjects: true,
  tagUint8Array: false,
  variableMapSize: true,
})
const decoder = new Decoder({ useRecords: false, mapsAsObjects: true })

/**
 * Encodes a value as deterministic CBOR: keys whose value is `undefined` are dropped, map keys
 * are sorted by encoded length then bytewise, every header is as short as possible.
 */
export function encodeCbor(value: unknown): Uint8Array {
  const bytes = encoder.encode(normalize(value))
  // cbor-x returns a Buffer that may share a pooled ArrayBuffer; hand out an exact copy.
  return new Uint8Array(bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength))
}

/**
 * Decodes exactly one CBOR item from untrusted bytes. Every decoder of peer, announcement and API bytes
 * goes through here, and {@link scanCbor} sees the bytes first: throws `MALFORMED`, `CBOR_TAG`,
 * `CBOR_INDEFINITE` or `CBOR_TOO_DEEP`.
 */
export function decodeCbor(bytes: Uint8Array): unknown {
  if (!(bytes instanceof Uint8Array)) throw new WireError('MALFORMED', 'input is not a byte array')
  if (bytes.length === 0) throw new WireError('MALFORMED', 'empty input')
  scanCbor(bytes)
  try {
    return decoder.decode(bytes)
  } catch (cause) {
    throw new WireError('MALFORMED', `not a single well-formed CBOR item (${describe(cause)})`, {
      cause,
    })
  }
}

function describe(err: unknown): string {
  return err instanceof Error ? err.message.slice(0, 200) : String(err).slice(0, 200)
}

const utf8 = new TextEncoder()

function compareKeys(a: string, b: string): number {
  const la = utf8Length(a)
  const lb = utf8Length(b)
  if (la !== lb) return la - lb
  if (la === a.length && lb === b.length) return a < b ? -1 : a > b ? 1 : 0 // ASCII: code units = bytes
  const x = utf8.encode(a)
  const y = utf8.encode(b)
  for (let i = 0; i < x.length; i++) if (x[i] !== y[i]) return x[i]! - y[i]!
  return 0
}

// Messages come in few shapes; remember each shape's sorted key order.
const keyOrders = new Map<string, string[]>()

function sortedKeys(value: object): string[] {
  const keys = Object.keys(value)
  const shape = keys.join('\0')
  let order = keyOrders.get(shape)
  if (order === undefined) {
    order = [...keys].sort(compareKeys)
    if (keyOrders.size > 1000) keyOrders.clear()
    keyOrders.set(shape, order)
  }
  return order
}

function normalize(value: unknown): unknown {
  // cbor-x writes integers beyond 32 bits as float64; as a BigInt they get the preferred
  // integer encoding that any CBOR library writes and reads.
  if (typeof value === 'number') {
    return Number.isSafeInteger(value) && (value > 0xffffffff || value < -0xffffffff)
      ? BigInt(value)
      : value
  }
  if (value === null || typeof value !== 'object') return value
  if (Array.isArray(value)) return value.map(normalize)
  if (Object.getPrototypeOf(value) !== Object.prototype) return value
  const out: Record<string, unknown> = {}
  for (const k of sortedKeys(value)) {
    const v = (value as Record<string, unknown>)[k]
    if (v === undefined) continue
    // A `__proto__` key must stay a key, not become a prototype.
    if (k === '__proto__')
      Object.defineProperty(out, k, {
        value: normalize(v),
        enumerable: true,
        writable: true,
        configurable: true,
      })
    else out[k] = normalize(v)
  }
  return out
}
