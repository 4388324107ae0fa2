import { randomBytes } from 'node:crypto'
import {
  decodePunchPacket,
  derivePunchKey,
  encodePunchPacket,
  PUNCH_PACKET_BYTES,
} from '@harddrive-party/holepunch/internal'
import fc from 'fast-check'
import { describe, expect, it } from 'vitest'

const key = derivePunchKey(randomBytes(32))
const nonce = new Uint8Array(randomBytes(8))
const zero = new Uint8Array(8)

describe('punch packets', () => {
  it('round-trips probes and acks under the same key', () => {
    const probe = encodePunchPacket(key, { kind: 'probe', nonce, echo: zero })
    expect(probe).toHaveLength(PUNCH_PACKET_BYTES)
    expect(Buffer.from(probe.subarray(0, 5)).toString('latin1')).toBe('HDPH\x01')
    expect(decodePunchPacket(key, probe)).toEqual({ kind: 'probe', nonce, echo: zero })
    const echo = new Uint8Array(randomBytes(8))
    const ack = encodePunchPacket(key, { kind: 'ack', nonce, echo })
    expect(decodePunchPacket(key, ack)).toEqual({ kind: 'ack', nonce, echo })
  })

  it('is not accepted under another secret (another topic or peer pair)', () => {
    const probe = encodePunchPacket(key, { kind: 'probe', nonce, echo: zero })
    expect(decodePunchPacket(derivePunchKey(randomBytes(32)), probe)).toBeUndefined()
  })

  it('rejects any single-bit change (MAC covers header, kind and both nonces)', () => {
    const ack = encodePunchPacket(key, { kind: 'ack', nonce, echo: new Uint8Array(randomBytes(8)) })
    fc.assert(
      fc.property(fc.integer({ min: 0, max: PUNCH_PACKET_BYTES * 8 - 1 }), (bit) => {
        const copy = new Uint8Array(ack)
        copy[bit >> 3]! ^= 1 << (bit & 7)
        expect(decodePunchPacket(key, copy)).toBeUndefined()
      }),
      { numRuns: PUNCH_PACKET_BYTES * 8 },
    )
  })

  it('rejects other lengths, other versions and hostile bytes without throwing', () => {
    const probe = encodePunchPacket(key, { kind: 'probe', nonce, echo: zero })
    expect(decodePunchPacket(key, probe.subarray(0, 39))).toBeUndefined()
    expect(decodePunchPacket(key, new Uint8Array([...probe, 0]))).toBeUndefined()
    fc.assert(
      fc.property(fc.uint8Array({ minLength: 0, maxLength: 64 }), (bytes) => {
        expect(decodePunchPacket(key, bytes)).toBeUndefined()
      }),
    )
  })

  it('needs a secret of at least 16 bytes', () => {
    expect(() => derivePunchKey(new Uint8Array(8))).toThrow(TypeError)
  })
})
