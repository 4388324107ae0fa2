import type UDX from 'udx-native'
import { describe, expect, it } from 'vitest'
import { UdxInflightCap } from '../src/udx-inflight-cap'

/** A stand-in for libudx's counters; times are passed in, so nothing here depends on a clock. */
function fakeStream() {
  return { rtt: 0, bytesTransmitted: 0, inflight: 0 }
}

describe('UDX in-flight cap (issue 12)', () => {
  it('sets no cap before it has measured a rate and an RTT', () => {
    const raw = fakeStream()
    const cap = new UdxInflightCap(raw as unknown as UDX.Stream)
    expect(cap.capBytes(1000)).toBe(Number.POSITIVE_INFINITY)
    raw.bytesTransmitted = 1e6
    expect(cap.capBytes(1100)).toBe(Number.POSITIVE_INFINITY) // still no RTT
  })

  it('caps at 2 BDP while the RTT shows no queue and at 1.25 BDP once a queue builds', () => {
    const raw = fakeStream()
    raw.rtt = 40
    const cap = new UdxInflightCap(raw as unknown as UDX.Stream)
    cap.capBytes(1000) // starts the first sample
    // 1 MB leaves flight per 40 ms, with 1 MB always in flight: 25,000 bytes per ms.
    raw.inflight = 1e6
    for (let t = 1040; t <= 1200; t += 40) {
      raw.bytesTransmitted += 1e6
      cap.capBytes(t)
    }
    expect(cap.estimate).toEqual({ rateBytesPerMs: 25_000, minRttMs: 40 })
    expect(cap.capBytes(1200)).toBe(2 * 25_000 * 40)
    raw.rtt = 60 // the queue at the bottleneck: 20 ms
    expect(cap.capBytes(1200)).toBe(1.25 * 25_000 * 40)
    // The minimum RTT stays the emptiest one seen.
    expect(cap.estimate.minRttMs).toBe(40)
  })

  it('keeps the largest recent sample, so a stall (a hole being repaired) does not lower the cap', () => {
    const raw = fakeStream()
    raw.rtt = 40
    const cap = new UdxInflightCap(raw as unknown as UDX.Stream)
    cap.capBytes(0.5)
    raw.bytesTransmitted = 1e6
    cap.capBytes(40.5)
    const before = cap.capBytes(40.5)
    // 80 ms with little leaving flight.
    raw.bytesTransmitted += 1000
    cap.capBytes(80.5)
    raw.bytesTransmitted += 1000
    cap.capBytes(120.5)
    expect(cap.capBytes(120.5)).toBe(before)
  })

  it('sets no cap on paths under 5 ms (LAN, loopback)', () => {
    const raw = fakeStream()
    raw.rtt = 1
    const cap = new UdxInflightCap(raw as unknown as UDX.Stream)
    cap.capBytes(1)
    raw.bytesTransmitted = 1e6
    cap.capBytes(41)
    expect(cap.estimate.rateBytesPerMs).toBe(25_000)
    expect(cap.capBytes(41)).toBe(Number.POSITIVE_INFINITY)
  })

  it('never caps below 256 KiB (a quiet connection starts again from there)', () => {
    const raw = fakeStream()
    raw.rtt = 40
    const cap = new UdxInflightCap(raw as unknown as UDX.Stream)
    cap.capBytes(1)
    raw.bytesTransmitted = 400 // a keep-alive's worth
    cap.capBytes(41)
    expect(cap.capBytes(41)).toBe(256 * 1024)
  })
})
