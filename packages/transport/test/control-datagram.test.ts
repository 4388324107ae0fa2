import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import {
  CONTROL_MAGIC,
  type ControlDatagram,
  decodeControlDatagram,
  encodeControlDatagram,
  isControlDatagram,
  newNonce,
} from '../src/control-datagram'

const nonce = newNonce()
const samples: ControlDatagram[] = [
  { type: 'connect', streamId: 7, nonce, cookie: undefined },
  { type: 'connect', streamId: 2 ** 32 - 1, nonce, cookie: new Uint8Array(16).fill(9) },
  { type: 'accept', streamId: 7, nonce, acceptorStreamId: 99 },
  { type: 'retry', streamId: 7, nonce, cookie: new Uint8Array(16).fill(3) },
  { type: 'reject', streamId: 7, nonce, reason: 'rate-limited' },
  { type: 'cancel', streamId: 7, nonce },
]

describe('control datagrams', () => {
  it('round-trip every type', () => {
    for (const message of samples) {
      expect(decodeControlDatagram(encodeControlDatagram(message))).toEqual(message)
    }
  })

  it('never answer with more bytes than a connect carries (no amplification)', () => {
    const connect = encodeControlDatagram(samples[0]!).length
    for (const message of samples) {
      expect(encodeControlDatagram(message).length).toBeLessThanOrEqual(connect)
    }
  })

  it('cannot be mistaken for UDX (0xff) or STUN (first two bits 0) packets', () => {
    expect(CONTROL_MAGIC[0]).not.toBe(0xff)
    expect(CONTROL_MAGIC[0]! >> 6).not.toBe(0)
    const udx = new Uint8Array(20).fill(0)
    udx[0] = 0xff
    udx[1] = 1
    expect(isControlDatagram(udx)).toBe(false)
  })

  it('reject any malformed bytes without throwing', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 80 }), fc.boolean(), (bytes, withMagic) => {
        const data = withMagic ? Uint8Array.from([...CONTROL_MAGIC, ...bytes]) : bytes
        const decoded = decodeControlDatagram(data)
        if (decoded !== undefined) {
          expect(encodeControlDatagram(decoded).length).toBe(data.length)
        }
      }),
      { numRuns: 5000 },
    )
  })

  it('reject truncated and extended copies of valid datagrams', () => {
    for (const message of samples) {
      const bytes = encodeControlDatagram(message)
      expect(decodeControlDatagram(bytes.subarray(0, bytes.length - 1))).toBeUndefined()
      expect(decodeControlDatagram(Uint8Array.from([...bytes, 0]))).toBeUndefined()
    }
  })
})
