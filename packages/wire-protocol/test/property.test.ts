import { deriveTopicKeys, isWireError } from '@harddrive-party/wire-protocol'
import { encodeCbor } from '@harddrive-party/wire-protocol/internal'
import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import {
  byteDecoders,
  createRng,
  HOSTILE_KEYS,
  HOSTILE_WORDS,
  hostileCbor,
  validSamples,
} from './decoders'

const topic = await deriveTopicKeys('fuzz', { kdf: { N: 1024, r: 8, p: 1 } })
const decoders = byteDecoders(topic)
const seeds = validSamples(topic)

/** Runs `decode` and fails the property unless it returns or throws a WireError. */
function onlyWireErrors(decode: (b: Uint8Array) => unknown, input: Uint8Array): boolean {
  try {
    decode(input)
  } catch (err) {
    if (!isWireError(err))
      throw new Error(
        `non-WireError from input ${Buffer.from(input).toString('hex').slice(0, 200)}`,
        { cause: err },
      )
  }
  return true
}

const mutated = fc
  .tuple(
    fc.constantFrom(...seeds),
    fc.array(
      fc.tuple(
        fc.nat(),
        fc.integer({ min: 0, max: 255 }),
        fc.constantFrom('flip', 'set', 'cut', 'insert'),
      ),
      { minLength: 1, maxLength: 8 },
    ),
  )
  .map(([base, edits]) => {
    let b = Array.from(base)
    for (const [at, byte, op] of edits) {
      const i = b.length === 0 ? 0 : at % b.length
      if (op === 'flip') b[i] = (b[i] ?? 0) ^ (1 << (byte & 7))
      else if (op === 'set') b[i] = byte
      else if (op === 'cut') b = b.slice(0, i)
      else b.splice(i, 0, byte)
    }
    return new Uint8Array(b)
  })

const leaf = fc.oneof(
  fc.string({ maxLength: 40 }),
  fc.constantFrom(...HOSTILE_WORDS),
  fc.integer(),
  fc.bigInt({ min: -(2n ** 64n) + 1n, max: 2n ** 64n - 1n }),
  fc.double(),
  fc.boolean(),
  fc.constant(null),
  fc.uint8Array({ maxLength: 70 }),
)
const keys = fc.constantFrom(...HOSTILE_KEYS)
const { value: structured } = fc.letrec((tie) => ({
  value: fc.oneof(
    { depthSize: 'small' },
    leaf,
    fc.array(tie('value'), { maxLength: 4 }),
    fc.dictionary(keys, tie('value'), { maxKeys: 8 }),
  ),
}))

describe('every decoder refuses hostile bytes with a WireError and nothing else', () => {
  for (const [name, decode] of Object.entries(decoders)) {
    it(`${name}: random bytes`, () => {
      fc.assert(
        fc.property(fc.uint8Array({ maxLength: 1024 }), (b) => onlyWireErrors(decode, b)),
        { numRuns: 1500 },
      )
    })
    it(`${name}: mutated valid messages`, () => {
      fc.assert(
        fc.property(mutated, (b) => onlyWireErrors(decode, b)),
        { numRuns: 1500 },
      )
    })
    it(`${name}: well-formed CBOR of the wrong shape`, () => {
      fc.assert(
        fc.property(structured, (v) => onlyWireErrors(decode, encodeCbor(v))),
        { numRuns: 1500 },
      )
    })
    it(`${name}: tags, bignums, indefinite lengths, deep nesting (issue 9.3)`, () => {
      fc.assert(
        fc.property(fc.constantFrom(...seeds), fc.integer({ min: 1 }), (base, seed) =>
          onlyWireErrors(decode, hostileCbor(base, createRng(seed).int)),
        ),
        { numRuns: 500 },
      )
    })
  }

  it('the property can fail: a decoder throwing a plain Error is caught', () => {
    expect(() =>
      onlyWireErrors(() => {
        throw new TypeError('boom')
      }, new Uint8Array(1)),
    ).toThrow(/non-WireError/)
  })
})
