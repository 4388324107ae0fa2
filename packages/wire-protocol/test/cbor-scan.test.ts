import { readdirSync, readFileSync } from 'node:fs'
import { join } from 'node:path'
import {
  decodeApiRequest,
  decodeApiServerMessage,
  decodeHello,
  decodeLsResponse,
  decodePeerRequest,
  decodeReadResponse,
  isWireError,
  limits,
} from '@harddrive-party/wire-protocol'
import { decodeCbor, encodeCbor } from '@harddrive-party/wire-protocol/internal'
import { Decoder } from 'cbor-x'
import { describe, expect, it } from 'vitest'

const hex = (h: string) => new Uint8Array(Buffer.from(h.replace(/\s/g, ''), 'hex'))

/** `base` (a CBOR map of fewer than 23 entries) with one more entry, `x` => `value`. */
function withExtraField(base: Uint8Array, value: Uint8Array): Uint8Array {
  const out = new Uint8Array(base.length + 2 + value.length)
  out.set(base)
  out[0] = base[0]! + 1
  out.set([0x61, 0x78], base.length)
  out.set(value, base.length + 2)
  return out
}

/** A tag-2 bignum (positive) of `n` magnitude bytes. */
function bignum(n: number): Uint8Array {
  const out = new Uint8Array(6 + n).fill(0xab)
  out[0] = 0xc2
  out[1] = 0x5a
  new DataView(out.buffer).setUint32(2, n)
  return out
}

function nested(levels: number): Uint8Array {
  return new Uint8Array([...new Array(levels).fill(0x81), 0x00])
}

function codeOf(fn: () => unknown): string | undefined {
  try {
    fn()
  } catch (err) {
    if (isWireError(err)) return err.code
    throw err
  }
  return undefined
}

const ls = encodeCbor({ type: 'ls', path: '', recursive: false })

describe('CBOR pre-scan: what the protocol never sends is refused before cbor-x builds it', () => {
  it('issue 9.3: decodePeerRequest refuses an ls with a 128 KiB bignum in an extra field, fast', () => {
    const hostile = withExtraField(ls, bignum(128 * 1024))
    // Control: the same bytes in cbor-x itself, which decodePeerRequest called directly before
    // the fix (it ignored the extra field after building it). Quadratic: 2.3 s here.
    const plain = new Decoder({ useRecords: false, mapsAsObjects: true })
    let t = performance.now()
    plain.decode(hostile)
    const cborXMs = performance.now() - t

    t = performance.now()
    expect(codeOf(() => decodePeerRequest(hostile))).toBe('CBOR_TAG')
    const oursMs = performance.now() - t
    console.log(
      `128 KiB bignum: cbor-x alone ${cborXMs.toFixed(0)} ms, decodePeerRequest ${oursMs.toFixed(2)} ms`,
    )
    expect(cborXMs).toBeGreaterThan(300)
    // It stops at the tag head, byte 28: microseconds. Bounded against the control measured in
    // the same run, so a loaded machine slows both.
    expect(oursMs).toBeLessThan(cborXMs / 10)
    // The same message without the bignum is a valid request.
    expect(decodePeerRequest(withExtraField(ls, hex('01')))).toEqual({
      type: 'ls',
      path: '',
      recursive: false,
    })
  })

  const cases: [string, Uint8Array, string][] = [
    ['tag 2 bignum', withExtraField(ls, bignum(9)), 'CBOR_TAG'],
    ['tag 3 negative bignum', withExtraField(ls, hex('c3 41 01')), 'CBOR_TAG'],
    ['tag 0 date string', withExtraField(ls, hex('c0 61 31')), 'CBOR_TAG'],
    ['tag with an 8-byte number', withExtraField(ls, hex('db 0000000000000001 00')), 'CBOR_TAG'],
    ['tag as the whole message', hex('c1 00'), 'CBOR_TAG'],
    ['indefinite byte string', withExtraField(ls, hex('5f 41 00 ff')), 'CBOR_INDEFINITE'],
    ['indefinite text string', withExtraField(ls, hex('7f 61 61 ff')), 'CBOR_INDEFINITE'],
    ['indefinite array', withExtraField(ls, hex('9f 01 ff')), 'CBOR_INDEFINITE'],
    ['indefinite map as the message', hex('bf 64 74797065 62 6c73 ff'), 'CBOR_INDEFINITE'],
    [
      'nesting one past the limit',
      withExtraField(ls, nested(limits.MAX_CBOR_DEPTH)),
      'CBOR_TOO_DEEP',
    ],
    ['a million levels', nested(1_000_000), 'CBOR_TOO_DEEP'],
    ['byte string longer than the input', withExtraField(ls, hex('5a ffffffff 00')), 'MALFORMED'],
    ['array of 2^32-1 items in 2 bytes', withExtraField(ls, hex('9a ffffffff 00')), 'MALFORMED'],
    ['map count larger than the input', withExtraField(ls, hex('b8 ff 00')), 'MALFORMED'],
    ['8-byte length', withExtraField(ls, hex('7b 0100000000000000')), 'MALFORMED'],
    ['reserved head 0x1c', withExtraField(ls, hex('1c')), 'MALFORMED'],
    ['head cut short', hex('a1 61 78 19 01'), 'MALFORMED'],
    ['stray break', withExtraField(ls, hex('ff')), 'MALFORMED'],
    ['two-byte simple value below 32', withExtraField(ls, hex('f8 14')), 'MALFORMED'],
    ['trailing byte', hex(`${Buffer.from(ls).toString('hex')}00`), 'MALFORMED'],
  ]
  for (const [name, bytes, code] of cases) {
    it(`refuses ${name} with ${code}`, () => {
      expect(codeOf(() => decodeCbor(bytes))).toBe(code)
      expect(codeOf(() => decodePeerRequest(bytes))).toBe(code)
    })
  }

  it('every message decoder runs the scan (a tag in an extra field of each valid message)', () => {
    const messages: [(b: Uint8Array) => unknown, unknown][] = [
      [decodeHello, { type: 'hello', version: [1, 0], proof: new Uint8Array(32) }],
      [decodePeerRequest, { type: 'read', path: 'a', offset: 0 }],
      [decodeLsResponse, { type: 'end' }],
      [decodeReadResponse, { type: 'queued', position: 1 }],
      [decodeApiRequest, { id: 1, command: { type: 'info' } }],
      [decodeApiServerMessage, { type: 'end', id: 1 }],
    ]
    for (const [decode, value] of messages) {
      const bytes = encodeCbor(value)
      expect(() => decode(bytes)).not.toThrow()
      expect(codeOf(() => decode(withExtraField(bytes, bignum(4))))).toBe('CBOR_TAG')
    }
  })

  it('accepts the deepest nesting allowed, and floats, null, undefined and 64-bit integers', () => {
    expect(decodeCbor(nested(limits.MAX_CBOR_DEPTH - 1))).toBeDefined()
    expect(decodeCbor(hex('84 fb 3ff8000000000000 f6 f7 1b ffffffffffffffff'))).toEqual([
      1.5,
      null,
      undefined,
      2n ** 64n - 1n,
    ])
  })

  it('cbor-x is imported by one module only, and decodes in one place', () => {
    const src = join(import.meta.dirname, '../src')
    const users = readdirSync(src).filter((f) =>
      readFileSync(join(src, f), 'utf8').includes("from 'cbor-x'"),
    )
    expect(users).toEqual(['cbor.ts'])
    expect(readFileSync(join(src, 'cbor.ts'), 'utf8').match(/decoder\.decode\(/g)).toHaveLength(1)
  })
})
