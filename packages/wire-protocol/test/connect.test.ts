import { createHmac } from 'node:crypto'
import { describe, expect, it } from 'vitest'
import { compareKeys, derivePunchSecret, isDialer } from '../src/internal'

// The vectors of docs/protocol.md §6.1 (dialer rule and punch secret).
const proofKey = new Uint8Array(32).fill(0x11)
const keyA = new Uint8Array(32).fill(0x01)
const keyB = new Uint8Array(32).fill(0x02)
keyB[31] = 0xff
const hex = (u: Uint8Array) => Buffer.from(u).toString('hex')

describe('dialer rule', () => {
  it('the lower key dials, bytewise as unsigned bytes', () => {
    expect(isDialer(keyA, keyB)).toBe(true)
    expect(isDialer(keyB, keyA)).toBe(false)
    expect(isDialer(keyA, keyA)).toBe(false)
    const high = new Uint8Array(32)
    high[0] = 0x80 // would be negative as a signed byte
    expect(isDialer(new Uint8Array(32).fill(0x7f), high)).toBe(true)
    expect(compareKeys(keyA, keyB)).toBeLessThan(0)
  })
})

describe('punch secret', () => {
  it('matches the vector, whichever side computes it', () => {
    const vector = 'b3613c1412912a12a06e39a1ea8ad59873797b565a3afc341b66080333c4de5a'
    expect(hex(derivePunchSecret({ proofKey }, keyA, keyB))).toBe(vector)
    expect(hex(derivePunchSecret({ proofKey }, keyB, keyA))).toBe(vector)
    // The same bytes from the spec's formula with node:crypto.
    const message = Buffer.concat([
      Buffer.from('harddrive-party/1 punch'),
      Buffer.from([0]),
      keyA,
      keyB,
    ])
    expect(createHmac('sha256', proofKey).update(message).digest('hex')).toBe(vector)
  })

  it('differs per topic and per pair, and refuses keys of the wrong size', () => {
    const other = derivePunchSecret({ proofKey: new Uint8Array(32).fill(0x12) }, keyA, keyB)
    expect(hex(other)).not.toBe(hex(derivePunchSecret({ proofKey }, keyA, keyB)))
    const keyC = new Uint8Array(32).fill(0x03)
    expect(hex(derivePunchSecret({ proofKey }, keyA, keyC))).not.toBe(
      hex(derivePunchSecret({ proofKey }, keyA, keyB)),
    )
    expect(() => derivePunchSecret({ proofKey }, keyA, new Uint8Array(31))).toThrow(TypeError)
  })
})
