import { crc32 } from 'node:zlib'
import { isHolepunchError } from '@harddrive-party/holepunch'
import { decodeBindingResponse, encodeBindingRequest } from '@harddrive-party/holepunch/internal'
import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import {
  bindingResponse,
  errorCode,
  mappedAddress,
  xorMappedAddress,
} from './helpers/stun-responder'

const hex = (s: string): Uint8Array => new Uint8Array(Buffer.from(s.replace(/\s+/g, ''), 'hex'))
const tid = new Uint8Array(12).map((_, i) => i + 1)

describe('STUN message codec', () => {
  it('decodes the RFC 5769 IPv4 and IPv6 sample responses (XOR-MAPPED-ADDRESS, FINGERPRINT)', () => {
    const v4 = hex(`0101003c 2112a442 b7e7a701 bc34d686 fa87dfae 8022000b 74657374 20766563 746f7220
      00200008 0001a147 e112a643 00080014 2b91f599 fd9e90c3 8c7489f9 2af9ba53 f06be7d7 80280004 c07d4c96`)
    const v6 = hex(`01010048 2112a442 b7e7a701 bc34d686 fa87dfae 8022000b 74657374 20766563 746f7220
      00200014 0002a147 0113a9fa a5d3f179 bc25f4b5 bed2b9d9 00080014 a382954e 4be67bf1 1784c97c
      8292c275 bfe3ed41 80280004 c8fb0b4c`)
    expect(decodeBindingResponse(v4)).toMatchObject({
      kind: 'success',
      mapped: { host: '192.0.2.1', port: 32853 },
      software: 'test vector',
    })
    expect(decodeBindingResponse(v6)).toMatchObject({
      kind: 'success',
      mapped: { host: '2001:db8:1234:5678:11:2233:4455:6677', port: 32853 },
    })
  })

  it('encodes a Binding request with the magic cookie, our transaction id and a valid FINGERPRINT', () => {
    const req = encodeBindingRequest(tid)
    const view = new DataView(req.buffer)
    expect(req.length).toBe(28)
    expect(view.getUint16(0)).toBe(0x0001)
    expect(view.getUint16(2)).toBe(8)
    expect(view.getUint32(4)).toBe(0x2112a442)
    expect([...req.subarray(8, 20)]).toEqual([...tid])
    expect(view.getUint16(20)).toBe(0x8028)
    expect(view.getUint32(24)).toBe((crc32(req.subarray(0, 20)) ^ 0x5354554e) >>> 0)
  })

  it('falls back to MAPPED-ADDRESS when a legacy server sends only that, and prefers XOR-MAPPED-ADDRESS', () => {
    const legacy = bindingResponse(tid, [mappedAddress('198.51.100.7', 4242)], {
      fingerprint: false,
    })
    expect(decodeBindingResponse(legacy)).toMatchObject({
      mapped: { host: '198.51.100.7', port: 4242 },
    })
    // A NAT's misguided ALG may rewrite MAPPED-ADDRESS; the XOR form survives it.
    const both = bindingResponse(tid, [
      mappedAddress('10.0.0.1', 1),
      xorMappedAddress('203.0.113.5', 50000),
    ])
    expect(decodeBindingResponse(both)).toMatchObject({
      mapped: { host: '203.0.113.5', port: 50000 },
    })
  })

  it('reads OTHER-ADDRESS and ignores unknown comprehension-optional attributes', () => {
    const msg = bindingResponse(tid, [
      xorMappedAddress('203.0.113.5', 50000),
      [0x8099, new Uint8Array([1, 2, 3])],
      mappedAddress('203.0.113.6', 3479, 0x802c),
    ])
    expect(decodeBindingResponse(msg)).toMatchObject({
      mapped: { host: '203.0.113.5', port: 50000 },
      otherAddress: { host: '203.0.113.6', port: 3479 },
    })
  })

  it('decodes an error response with its code and reason', () => {
    const msg = bindingResponse(tid, [errorCode(420, 'Unknown Attribute')], { type: 0x0111 })
    expect(decodeBindingResponse(msg)).toMatchObject({
      kind: 'error',
      code: 420,
      reason: 'Unknown Attribute',
    })
  })

  it('ignores what is not a Binding response: other traffic, requests, bad FINGERPRINT', () => {
    expect(decodeBindingResponse(new TextEncoder().encode('DATA hello from a'))).toBeUndefined()
    expect(decodeBindingResponse(encodeBindingRequest(tid))).toBeUndefined()
    const msg = bindingResponse(tid, [xorMappedAddress('203.0.113.5', 50000)])
    msg[msg.length - 1]! ^= 1
    expect(decodeBindingResponse(msg)).toBeUndefined()
  })

  it('refuses a response with an unknown comprehension-required attribute or a broken one', () => {
    const unknown = bindingResponse(tid, [
      xorMappedAddress('203.0.113.5', 1),
      [0x0033, new Uint8Array(4)],
    ])
    expect(() => decodeBindingResponse(unknown)).toThrow(/STUN_BAD_RESPONSE.*0x0033/)
    const badFamily = bindingResponse(tid, [[0x0020, new Uint8Array([0, 9, 0, 1, 1, 2, 3, 4])]])
    expect(() => decodeBindingResponse(badFamily)).toThrow(/STUN_BAD_RESPONSE/)
    const noAddress = bindingResponse(tid, [])
    expect(() => decodeBindingResponse(noAddress)).toThrow(/without XOR-MAPPED-ADDRESS/)
  })

  it('never throws anything but a HolepunchError on hostile bytes', () => {
    const stunLike = fc
      .tuple(fc.uint8Array({ maxLength: 120 }), fc.constantFrom(0x0101, 0x0111))
      .map(([body, type]) => {
        const padded = body.subarray(0, body.length - (body.length % 4))
        const out = new Uint8Array(20 + padded.length)
        const view = new DataView(out.buffer)
        view.setUint16(0, type)
        view.setUint16(2, padded.length)
        view.setUint32(4, 0x2112a442)
        out.set(padded, 20)
        return out
      })
    fc.assert(
      fc.property(fc.oneof(fc.uint8Array({ maxLength: 200 }), stunLike), (bytes) => {
        try {
          const res = decodeBindingResponse(bytes)
          if (res?.kind === 'success') expect(res.mapped.port).toBeLessThan(65536)
        } catch (err) {
          expect(isHolepunchError(err) && err.code === 'STUN_BAD_RESPONSE').toBe(true)
        }
      }),
      { numRuns: 2000 },
    )
  })
})
