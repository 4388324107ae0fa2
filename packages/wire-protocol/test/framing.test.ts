import {
  decodePeerRequest,
  encodeFrame,
  encodePeerMessage,
  FRAME_HEADER_BYTES,
  FrameDecoder,
  readFrames,
} from '@harddrive-party/wire-protocol'
import { describe, expect, it } from 'vitest'

async function* chunks(...parts: Uint8Array[]) {
  yield* parts
}

describe('framing', () => {
  it('reassembles frames split at every byte boundary', () => {
    const a = encodeFrame(encodePeerMessage({ type: 'ls', path: 'music', recursive: true }))
    const b = encodeFrame(encodePeerMessage({ type: 'read', path: 'music/x', offset: 5 }))
    const all = new Uint8Array([...a, ...b])
    for (let cut = 0; cut <= all.length; cut++) {
      const d = new FrameDecoder()
      const out = []
      for (const part of [all.subarray(0, cut), all.subarray(cut)]) {
        d.push(part)
        for (let f = d.nextFrame(); f; f = d.nextFrame()) out.push(decodePeerRequest(f))
      }
      expect(out.map((m) => m.type)).toEqual(['ls', 'read'])
      expect(d.bufferedBytes).toBe(0)
    }
  })

  it('refuses an oversized frame from its header alone, before the payload arrives', () => {
    const d = new FrameDecoder({ maxFrameBytes: 1024 })
    d.push(new Uint8Array([0, 0, 4, 1])) // announces 1025 bytes
    expect(() => d.nextFrame()).toThrowError(expect.objectContaining({ code: 'FRAME_TOO_LARGE' }))
    const huge = new FrameDecoder()
    huge.push(new Uint8Array([0xff, 0xff, 0xff, 0xff]))
    expect(() => huge.nextFrame()).toThrowError(
      expect.objectContaining({ code: 'FRAME_TOO_LARGE' }),
    )
  })

  it('refuses to encode an oversized frame', () => {
    expect(() => encodeFrame(new Uint8Array(11), { maxFrameBytes: 10 })).toThrowError(
      expect.objectContaining({ code: 'FRAME_TOO_LARGE' }),
    )
  })

  it('hands out the raw bytes that follow a header frame without copying whole chunks', () => {
    const header = encodeFrame(new Uint8Array([0xa0]))
    const body = new Uint8Array(100_000).map((_, i) => i & 0xff)
    const d = new FrameDecoder()
    d.push(new Uint8Array([...header, ...body.subarray(0, 10)]))
    d.push(body.subarray(10))
    expect(d.nextFrame()).toEqual(new Uint8Array([0xa0]))
    const parts: Uint8Array[] = []
    for (let c = d.takeRaw(65536); c; c = d.takeRaw(65536)) parts.push(c)
    expect(Buffer.concat(parts)).toEqual(Buffer.from(body))
    expect(parts.every((p) => p.length <= 65536)).toBe(true)
    expect(d.takeRaw(1)).toBeUndefined()
    expect(FRAME_HEADER_BYTES).toBe(4)
  })

  it('readFrames yields frames and throws MALFORMED when the stream ends inside one', async () => {
    const f = encodeFrame(new Uint8Array([1, 2, 3]))
    const got = []
    for await (const frame of readFrames(chunks(f.subarray(0, 2), f.subarray(2))))
      got.push([...frame])
    expect(got).toEqual([[1, 2, 3]])
    await expect(async () => {
      for await (const _ of readFrames(chunks(f.subarray(0, 5)))) void _
    }).rejects.toThrowError(expect.objectContaining({ code: 'MALFORMED' }))
  })
})
