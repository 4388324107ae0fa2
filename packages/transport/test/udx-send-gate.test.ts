import UDX from 'udx-native'
import { afterEach, describe, expect, it } from 'vitest'
import { UdxSendGate } from '../src/udx-send-gate'

const sockets: UDX.Socket[] = []
afterEach(async () => {
  for (const s of sockets.splice(0)) await s.close()
})

function portOf(socket: UDX.Socket): number {
  const address = socket.address()
  if (address === null) throw new Error('socket not bound')
  return address.port
}

/** Two connected UDX streams on loopback. */
function pair(): { sender: UDX.Stream; receiver: UDX.Stream } {
  const udx = new UDX()
  const a = udx.createSocket()
  const b = udx.createSocket()
  a.bind(0, '127.0.0.1')
  b.bind(0, '127.0.0.1')
  sockets.push(a, b)
  const sender = udx.createStream(1)
  const receiver = udx.createStream(2)
  sender.connect(a, 2, portOf(b), '127.0.0.1')
  receiver.connect(b, 1, portOf(a), '127.0.0.1')
  return { sender, receiver }
}

describe('UDX send gate (issue 12)', () => {
  it('writes whole-byte messages only while the unsent queue has room, wakes on acks, and ends with nothing counted as unsent', async () => {
    const { sender, receiver } = pair()
    const total = 8 * 1024 * 1024
    let received = 0
    const allReceived = new Promise<void>((resolve) =>
      receiver.on('data', (d: Uint8Array) => {
        received += d.length
        if (received === total) resolve()
      }),
    )
    let wakes = 0
    let resume: (() => void) | undefined
    const gate = new UdxSendGate(sender, () => {
      wakes++
      resume?.()
    })
    let sent = 0
    let held = 0
    while (sent < total) {
      const room = gate.room()
      // A fractional room once became a fractional frame length and lost bytes.
      expect(Number.isInteger(room)).toBe(true)
      if (room <= 0) {
        held++
        await new Promise<void>((resolve) => {
          resume = resolve
        })
        continue
      }
      const n = Math.min(room, 64 * 1024, total - sent)
      gate.written(n)
      sender.write(new Uint8Array(n))
      sent += n
      // What the gate lets through stays within the budget's cap (4 MiB) plus one message.
      expect(gate.unsentBytes).toBeLessThanOrEqual(4 * 1024 * 1024 + 64 * 1024)
    }
    await allReceived
    expect(await sender.flush()).toBe(true)
    // Let the last flush callbacks of the gate run.
    await new Promise((resolve) => setTimeout(resolve, 50))
    expect(received).toBe(total)
    expect(gate.unsentBytes).toBe(0)
    expect(gate.room()).toBeGreaterThan(0)
    // Every hold was ended by an acknowledgement, never by a timer.
    expect(wakes).toBeGreaterThanOrEqual(held)
    sender.destroy()
    receiver.destroy()
  })
})
