import { crc32 } from 'node:zlib'

/**
 * Builds STUN Binding responses byte by byte, for tests that need a server to misbehave in a
 * precise way (wrong transaction, spoofed source, legacy MAPPED-ADDRESS only, error codes).
 * Kept independent of src/stun-message.ts so the codec is checked against a second writer.
 */
export function bindingResponse(
  transactionId: Uint8Array,
  attributes: Array<[type: number, value: Uint8Array]>,
  options: { type?: number; fingerprint?: boolean } = {},
): Uint8Array {
  const body: number[] = []
  for (const [type, value] of attributes) {
    body.push(type >> 8, type & 0xff, value.length >> 8, value.length & 0xff, ...value)
    while (body.length % 4 !== 0) body.push(0)
  }
  const fingerprint = options.fingerprint ?? true
  const length = body.length + (fingerprint ? 8 : 0)
  const type = options.type ?? 0x0101
  const out = new Uint8Array(20 + length)
  const view = new DataView(out.buffer)
  view.setUint16(0, type)
  view.setUint16(2, length)
  view.setUint32(4, 0x2112a442)
  out.set(transactionId, 8)
  out.set(body, 20)
  if (fingerprint) {
    const at = 20 + body.length
    view.setUint16(at, 0x8028)
    view.setUint16(at + 2, 4)
    view.setUint32(at + 4, (crc32(out.subarray(0, at)) ^ 0x5354554e) >>> 0)
  }
  return out
}

export function xorMappedAddress(host: string, port: number): [number, Uint8Array] {
  const ip = host.split('.').map(Number)
  const cookie = [0x21, 0x12, 0xa4, 0x42]
  return [
    0x0020,
    new Uint8Array([
      0,
      1,
      (port >> 8) ^ 0x21,
      (port & 0xff) ^ 0x12,
      ...ip.map((b, i) => b ^ cookie[i]!),
    ]),
  ]
}

export function mappedAddress(host: string, port: number, type = 0x0001): [number, Uint8Array] {
  return [type, new Uint8Array([0, 1, port >> 8, port & 0xff, ...host.split('.').map(Number)])]
}

export function errorCode(code: number, reason: string): [number, Uint8Array] {
  return [
    0x0009,
    new Uint8Array([0, 0, Math.floor(code / 100), code % 100, ...new TextEncoder().encode(reason)]),
  ]
}

/** The transaction id of a request (bytes 8..20). */
export function transactionIdOf(request: Uint8Array): Uint8Array {
  return request.slice(8, 20)
}
