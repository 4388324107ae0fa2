import { Decoder, Encoder } from 'cbor-x'
import { WireError } from './errors'

// Plain CBOR only: no cbor-x records or structured-clone extensions, so a second
// implementation needs nothing but a standard CBOR library.
const encoder = new Encoder({ useRecords: false, mapsAsObjects: true, tagUint8Array: false })
const decoder = new Decoder({ useRecords: false, mapsAsObjects: true })

/** Encodes a value as CBOR. Keys whose value is `undefined` are dropped first. */
export function encodeCbor(value: unknown): Uint8Array {
  const bytes = encoder.encode(dropUndefined(value))
  // cbor-x returns a Buffer that may share a pooled ArrayBuffer; hand out an exact copy.
  return new Uint8Array(bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength))
}

/** Decodes exactly one CBOR item from untrusted bytes, or throws `MALFORMED`. */
export function decodeCbor(bytes: Uint8Array): unknown {
  if (!(bytes instanceof Uint8Array)) throw new WireError('MALFORMED', 'input is not a byte array')
  if (bytes.length === 0) throw new WireError('MALFORMED', 'empty input')
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

function dropUndefined(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(dropUndefined)
  if (
    value !== null &&
    typeof value === 'object' &&
    Object.getPrototypeOf(value) === Object.prototype
  ) {
    const out: Record<string, unknown> = {}
    for (const [k, v] of Object.entries(value)) if (v !== undefined) out[k] = dropUndefined(v)
    return out
  }
  return value
}
