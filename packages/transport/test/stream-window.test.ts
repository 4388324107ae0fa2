import { setImmediate as turn } from 'node:timers/promises'
import { describe, expect, it } from 'vitest'
import {
  DATA_FRAME_CHARGE_BYTES,
  FrameType,
  INITIAL_WINDOW_BYTES,
  MUX_HEADER_BYTES,
  readU32,
  TCP_WINDOW_FLOOR_BYTES,
} from '../src/mux-frame'
import { MuxStream, type StreamHost } from '../src/mux-stream'

/** A host that records the window increments a stream grants, with no delay samples at all. */
function recordingHost(windowFloorBytes: number): StreamHost & { granted: () => number } {
  const frames: Uint8Array[] = []
  return {
    markReady() {},
    sendControl(frame) {
      frames.push(frame)
    },
    forget() {},
    windowGrew() {},
    windowMayGrow: false,
    windowShouldShrink: false,
    earlyGrants: true,
    windowFloorBytes,
    rttSamples: 0,
    granted: () =>
      frames
        .filter((f) => f[0] === FrameType.WINDOW)
        .reduce((sum, f) => sum + readU32(f, MUX_HEADER_BYTES), 0),
  }
}

/** One DATA payload that uses up exactly `window` bytes of window. */
const filling = (window: number) => new Uint8Array(window - DATA_FRAME_CHARGE_BYTES)

describe('stream window floor (TCP)', () => {
  it('grows toward the floor on BLOCKED once the reader took the bytes, without delay samples', async () => {
    const host = recordingHost(TCP_WINDOW_FLOOR_BYTES)
    const stream = new MuxStream(2, host)
    const reader = stream[Symbol.asyncIterator]()
    expect(stream.receiveData(filling(INITIAL_WINDOW_BYTES))).toBe(true)
    // BLOCKED arrives right behind the bytes, before the reader ran: the queue is full now.
    stream.receiveBlocked()
    expect((await reader.next()).value).toHaveLength(INITIAL_WINDOW_BYTES - DATA_FRAME_CHARGE_BYTES)
    await turn()
    // The consumed 256 KiB come back, and the window doubled: 512 KiB may be in flight.
    expect(host.granted()).toBe(2 * INITIAL_WINDOW_BYTES)
    expect(stream.receiveData(filling(2 * INITIAL_WINDOW_BYTES))).toBe(true)
    stream.receiveBlocked()
    await reader.next()
    await turn()
    expect(host.granted()).toBe(2 * INITIAL_WINDOW_BYTES + 2 * 2 * INITIAL_WINDOW_BYTES)
    expect(stream.receiveData(filling(TCP_WINDOW_FLOOR_BYTES))).toBe(true)
    // At the floor, growth waits for a delay sample that says the path has room: none here.
    stream.receiveBlocked()
    await reader.next()
    await turn()
    expect(host.granted()).toBe(6 * INITIAL_WINDOW_BYTES + TCP_WINDOW_FLOOR_BYTES)
    expect(stream.receiveData(filling(TCP_WINDOW_FLOOR_BYTES + 1))).toBe(false)
  })

  it('does not grow without a floor, nor for a reader that does not read', async () => {
    const noFloor = recordingHost(INITIAL_WINDOW_BYTES)
    const plain = new MuxStream(2, noFloor)
    const reader = plain[Symbol.asyncIterator]()
    plain.receiveData(filling(INITIAL_WINDOW_BYTES))
    plain.receiveBlocked()
    await reader.next()
    await turn()
    expect(noFloor.granted()).toBe(INITIAL_WINDOW_BYTES)
    expect(plain.receiveData(filling(INITIAL_WINDOW_BYTES + 1))).toBe(false)

    const unread = recordingHost(TCP_WINDOW_FLOOR_BYTES)
    const stalled = new MuxStream(4, unread)
    stalled.receiveData(filling(INITIAL_WINDOW_BYTES))
    stalled.receiveBlocked()
    await turn()
    // The reader is the bottleneck: no grant, and memory stays at the first window.
    expect(unread.granted()).toBe(0)
  })
})
