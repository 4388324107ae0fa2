import { WireError } from './errors'

/**
 * Field readers for decoded, untrusted CBOR. Each one reads an *own* property only (a
 * decoded `__proto__` key cannot smuggle values in), checks its type and range, and throws
 * `BAD_FIELD` naming the message and the field. Unknown extra fields are ignored.
 */
export type Fields = Record<string, unknown>

export function asFields(value: unknown, what: string): Fields {
  if (
    value === null ||
    typeof value !== 'object' ||
    Array.isArray(value) ||
    value instanceof Uint8Array
  ) {
    throw new WireError('BAD_FIELD', `${what} must be a CBOR map`)
  }
  if (value instanceof Map) {
    const out: Fields = Object.create(null)
    for (const [k, v] of value) if (typeof k === 'string') out[k] = v
    return out
  }
  return value as Fields
}

function own(obj: Fields, key: string): unknown {
  return Object.hasOwn(obj, key) ? obj[key] : undefined
}

export function has(obj: Fields, key: string): boolean {
  return own(obj, key) !== undefined && own(obj, key) !== null
}

function bad(what: string, key: string, expected: string): never {
  throw new WireError('BAD_FIELD', `${what}.${key} must be ${expected}`)
}

export function str(obj: Fields, key: string, what: string, maxChars: number): string {
  const v = own(obj, key)
  if (typeof v !== 'string') bad(what, key, 'a string')
  if (v.length > maxChars) bad(what, key, `at most ${maxChars} characters`)
  return v
}

export function optStr(
  obj: Fields,
  key: string,
  what: string,
  maxChars: number,
): string | undefined {
  return has(obj, key) ? str(obj, key, what, maxChars) : undefined
}

export function uint(
  obj: Fields,
  key: string,
  what: string,
  max = Number.MAX_SAFE_INTEGER,
): number {
  let v = own(obj, key)
  // 64-bit CBOR integers decode as BigInt; take them when they fit a safe JS integer.
  if (typeof v === 'bigint' && v >= 0n && v <= BigInt(Number.MAX_SAFE_INTEGER)) v = Number(v)
  if (typeof v !== 'number' || !Number.isSafeInteger(v) || v < 0) {
    bad(what, key, 'a non-negative integer')
  }
  if (v > max) bad(what, key, `at most ${max}`)
  return v
}

export function optUint(obj: Fields, key: string, what: string, max?: number): number | undefined {
  return has(obj, key) ? uint(obj, key, what, max) : undefined
}

export function bool(obj: Fields, key: string, what: string): boolean {
  const v = own(obj, key)
  if (typeof v !== 'boolean') bad(what, key, 'a boolean')
  return v
}

export function optBool(obj: Fields, key: string, what: string): boolean | undefined {
  return has(obj, key) ? bool(obj, key, what) : undefined
}

export function bytes(
  obj: Fields,
  key: string,
  what: string,
  length: { min?: number; max: number },
): Uint8Array {
  const v = own(obj, key)
  if (!(v instanceof Uint8Array)) bad(what, key, 'a byte string')
  if (v.length > length.max || v.length < (length.min ?? 0)) {
    bad(
      what,
      key,
      length.min === length.max ? `${length.max} bytes` : `${length.min ?? 0}..${length.max} bytes`,
    )
  }
  // Copy out of the decode buffer so callers can keep it.
  return new Uint8Array(v)
}

export function optBytes(
  obj: Fields,
  key: string,
  what: string,
  length: { min?: number; max: number },
): Uint8Array | undefined {
  return has(obj, key) ? bytes(obj, key, what, length) : undefined
}

export function array(obj: Fields, key: string, what: string, maxItems: number): unknown[] {
  const v = own(obj, key)
  if (!Array.isArray(v)) bad(what, key, 'an array')
  if (v.length > maxItems) bad(what, key, `at most ${maxItems} items`)
  return v
}

export function oneOf<T extends string>(
  obj: Fields,
  key: string,
  what: string,
  values: readonly T[],
): T {
  const v = own(obj, key)
  if (typeof v !== 'string' || !(values as readonly string[]).includes(v)) {
    bad(what, key, `one of ${values.join(', ')}`)
  }
  return v as T
}

/** True when `s` has a C0 control character (NUL included) or DEL. */
export function hasControlChar(s: string): boolean {
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i)
    if (c < 0x20 || c === 0x7f) return true
  }
  return false
}

export function field(obj: Fields, key: string): unknown {
  return own(obj, key)
}
