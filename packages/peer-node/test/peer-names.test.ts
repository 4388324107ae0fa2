import { displayNames, PEER_NAME_WORDS, peerName } from '@harddrive-party/peer-node'
import { describe, expect, it } from 'vitest'

// The vectors of docs/protocol.md §1.1.
const key = (fill: number) => new Uint8Array(32).fill(fill)
const counting = Uint8Array.from({ length: 32 }, (_, i) => i)
const withPrefix = (n: number) => {
  const k = new Uint8Array(32)
  new DataView(k.buffer).setUint32(0, n)
  return k
}
const hex = (k: Uint8Array) => Buffer.from(k).toString('hex')

describe('peer names', () => {
  it('use the pinned word lists (a changed list would rename every peer)', () => {
    expect(PEER_NAME_WORDS).toEqual({ adjectives: 1202, animals: 355 })
  })

  it('match the vectors', () => {
    expect(peerName(key(0x00))).toBe('BreakableReindeer')
    expect(peerName(key(0x01))).toBe('YoungestGiraffe')
    expect(peerName(key(0xff))).toBe('BrightEagle')
    expect(peerName(counting)).toBe('SoleSkunk')
  })

  it('get the shortest unique key suffix (at least 4 hex digits) only where two collide', () => {
    const a = withPrefix(145)
    const b = withPrefix(710)
    expect(peerName(a)).toBe('HissingLizard')
    expect(peerName(b)).toBe('HissingLizard')
    const names = displayNames([a, b, key(0x01)])
    expect(names.get(hex(a))).toBe('HissingLizard-000000')
    expect(names.get(hex(b))).toBe('HissingLizard-000002')
    expect(names.get(hex(key(0x01)))).toBe('YoungestGiraffe')
    expect(displayNames([a]).get(hex(a))).toBe('HissingLizard')
  })
})
