import { isHolepunchError } from '@harddrive-party/holepunch'
import { stunBinding } from '@harddrive-party/holepunch/internal'
import { describe, expect, inject, it } from 'vitest'
import { bindUdx, UDX } from './helpers/sockets'
import {
  bindingResponse,
  errorCode,
  transactionIdOf,
  xorMappedAddress,
} from './helpers/stun-responder'
import { trackedSockets } from './helpers/tracked'

const stun = inject('stunEndpoints')
const skip = inject('stunSkipReason')
if (skip) console.warn(`holepunch: coturn tests ${skip}`)

const { defer, dgram, udpServer: server } = trackedSockets()

describe('stunBinding against coturn', () => {
  it.skipIf(!!skip)('learns the mapped address from a udx-native socket', async () => {
    const udx = new UDX()
    const socket = bindUdx(udx)
    defer(() => socket.close())
    const result = await stunBinding(socket, stun[0]!)
    expect(result.mapped).toEqual({ host: '127.0.0.1', port: socket.port })
    expect(result.server).toEqual(stun[0])
    expect(result.requests).toBe(1)
    // coturn listens on two addresses, so it advertises its alternate one (RFC 5780).
    expect(result.otherAddress?.host).toMatch(/^127\.0\.0\.[12]$/)
  })

  it.skipIf(!!skip)('works from a node:dgram socket too, on both coturn addresses', async () => {
    const socket = await dgram()
    for (const endpoint of stun) {
      const result = await stunBinding(socket, endpoint)
      expect(result.mapped).toEqual({ host: '127.0.0.1', port: socket.port })
    }
  })
})

describe('stunBinding retransmission and validation', () => {
  it('retransmits the same transaction with a doubling RTO until an answer comes', async () => {
    const srv = await server()
    srv.onMessage((data, from) => {
      if (srv.received.length < 3) return // lose the first two requests
      srv.send(
        bindingResponse(transactionIdOf(data), [xorMappedAddress('203.0.113.9', 40000)]),
        from,
      )
    })
    const socket = await dgram()
    // Send times, taken by the client: the server's receive times also carry how late the
    // event loop ran each receive (a late first receive shortened the first gap under load).
    const sentAt: number[] = []
    const send = socket.send.bind(socket)
    socket.send = (data, port, host) => {
      sentAt.push(performance.now())
      return send(data, port, host)
    }
    const result = await stunBinding(socket, srv.address, { rtoMs: 60 })
    expect(result.mapped).toEqual({ host: '203.0.113.9', port: 40000 })
    expect(result.requests).toBe(3)
    const ids = srv.received.map((r) => Buffer.from(transactionIdOf(r.data)).toString('hex'))
    expect(new Set(ids).size).toBe(1)
    expect(sentAt).toHaveLength(3)
    // Timers never fire early: the gaps are at least RTO and 2·RTO (RFC 8489 §6.2.1).
    const [t0, t1, t2] = sentAt
    expect(t1! - t0!).toBeGreaterThanOrEqual(55)
    expect(t2! - t1!).toBeGreaterThanOrEqual(115)
  })

  it('gives up after Rc requests with STUN_TIMEOUT', async () => {
    const srv = await server() // never answers
    const socket = await dgram()
    const err = await stunBinding(socket, srv.address, {
      rtoMs: 10,
      maxRequests: 4,
      lastWaitFactor: 2,
    }).catch((e: unknown) => e)
    expect(isHolepunchError(err) && err.code).toBe('STUN_TIMEOUT')
    expect(srv.received).toHaveLength(4)
  })

  it('ignores responses from another source and responses to other transactions', async () => {
    const srv = await server()
    const spoofer = await server()
    srv.onMessage((data, from) => {
      const id = transactionIdOf(data)
      // Someone else answers first, with our transaction id, from the wrong address...
      spoofer.send(bindingResponse(id, [xorMappedAddress('6.6.6.6', 666)]), from)
      // ...and the right server answers another transaction first.
      srv.send(
        bindingResponse(new Uint8Array(12).fill(9), [xorMappedAddress('7.7.7.7', 777)]),
        from,
      )
      setTimeout(
        () => srv.send(bindingResponse(id, [xorMappedAddress('203.0.113.9', 40001)]), from),
        20,
      )
    })
    const socket = await dgram()
    const result = await stunBinding(socket, srv.address, { rtoMs: 500 })
    expect(result.mapped).toEqual({ host: '203.0.113.9', port: 40001 })
    expect(spoofer.received).toHaveLength(0)
  })

  it('rejects with STUN_ERROR_RESPONSE when the server answers with an error', async () => {
    const srv = await server()
    srv.onMessage((data, from) => {
      srv.send(
        bindingResponse(transactionIdOf(data), [errorCode(400, 'Bad Request')], { type: 0x0111 }),
        from,
      )
    })
    const socket = await dgram()
    await expect(stunBinding(socket, srv.address)).rejects.toThrow(
      /STUN_ERROR_RESPONSE.*400 Bad Request/,
    )
  })

  it('stops on abort, with the platform AbortError, and removes its listener', async () => {
    const srv = await server()
    const socket = await dgram()
    const before = socket.raw.listenerCount('message')
    const controller = new AbortController()
    const pending = stunBinding(socket, srv.address, { signal: controller.signal })
    expect(socket.raw.listenerCount('message')).toBe(before + 1)
    controller.abort()
    const err = (await pending.catch((e: unknown) => e)) as Error
    expect(err.name).toBe('AbortError')
    expect(socket.raw.listenerCount('message')).toBe(before)
    await expect(stunBinding(socket, srv.address, { signal: controller.signal })).rejects.toThrow(
      /abort/i,
    )
  })
})
