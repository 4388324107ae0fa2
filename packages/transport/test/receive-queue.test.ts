import { describe, expect, it } from 'vitest'
import { ReceiveQueue } from '../src/receive-queue'

describe('ReceiveQueue', () => {
  it('copies a view much smaller than its buffer out of it, also from a Buffer (whose slice() is a view)', () => {
    const message = Buffer.alloc(64 * 1024, 1) // as secret-stream hands on: a Buffer
    const payload = message.subarray(100, 100 + 8 * 1024)
    const queue = new ReceiveQueue()
    queue.push(payload, payload.length + 64)
    message.fill(2) // the carrier's buffer is reused or overwritten later
    const shifted = queue.shift()!
    expect(shifted.value.every((b) => b === 1)).toBe(true)
    // The queue holds 8 KiB, not the whole 64 KiB message (memory follows the window).
    expect(shifted.value.buffer.byteLength).toBe(8 * 1024)
    expect(shifted.charge).toBe(8 * 1024 + 64)
  })

  it('keeps a view that fills most of its buffer as it is (no copy)', () => {
    const message = Buffer.alloc(64 * 1024, 1)
    const payload = message.subarray(16, 48 * 1024)
    const queue = new ReceiveQueue()
    queue.push(payload, payload.length)
    expect(queue.shift()!.value).toBe(payload)
  })
})
