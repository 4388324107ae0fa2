import type { HolepunchProgressEvent } from '@harddrive-party/holepunch'
import { detectNat } from '@harddrive-party/holepunch/internal'
import { describe, expect, inject, it } from 'vitest'
import { bindUdx, UDX } from './helpers/sockets'
import { bindingResponse, transactionIdOf, xorMappedAddress } from './helpers/stun-responder'
import { trackedSockets } from './helpers/tracked'

const stun = inject('stunEndpoints')
const skip = inject('stunSkipReason')
const fast = { rtoMs: 20, maxRequests: 2, lastWaitFactor: 2 }

const { defer, dgram, udpServer: silentServer } = trackedSockets()
const asString = (a: { host: string; port: number }): string => `${a.host}:${a.port}`

describe.skipIf(!!skip)('detectNat with coturn on 127.0.0.1 and 127.0.0.2', () => {
  it('sees no NAT on loopback: two distinct servers, mapped equals our own address', async () => {
    const udx = new UDX()
    const socket = bindUdx(udx)
    defer(() => socket.close())
    const events: HolepunchProgressEvent[] = []
    const report = await detectNat(socket, {
      servers: stun.map(asString),
      onProgress: (e) => events.push(e),
    })
    expect(report).toMatchObject({
      nat: 'open',
      portAllocation: 'preserving',
      localPort: socket.port,
    })
    expect(report.publicAddress).toEqual({ host: '127.0.0.1', port: socket.port })
    expect(report.bindings.map((b) => b.server.host).sort()).toEqual(['127.0.0.1', '127.0.0.2'])
    expect(events.map((e) => e.type)).toEqual(['holepunch:stun', 'holepunch:stun', 'holepunch:nat'])
  })

  it('calls the NAT easy when the mapping is not one of our addresses but the same for every destination', async () => {
    const socket = await dgram()
    const report = await detectNat(socket, {
      servers: stun.map(asString),
      localAddresses: ['192.0.2.10'],
    })
    expect(report).toMatchObject({ nat: 'easy', portAllocation: 'preserving' })
    expect(report.reason).toMatch(/endpoint-independent/)
  })

  it('finds a second destination through OTHER-ADDRESS when given a single server', async () => {
    const socket = await dgram()
    const report = await detectNat(socket, { servers: [asString(stun[0]!)] })
    expect(report.nat).toBe('open')
    expect(report.bindings).toHaveLength(2)
    expect(report.bindings[1]!.server).toEqual(report.bindings[0]!.otherAddress)
  })

  it('skips dead and unresolvable servers and stops once two distinct ones answered', async () => {
    const dead = await silentServer()
    const never = await silentServer()
    const socket = await dgram()
    const events: HolepunchProgressEvent[] = []
    const report = await detectNat(socket, {
      ...fast,
      concurrency: 1,
      servers: [
        'no-such-server.invalid:3478',
        asString(dead.address),
        `localhost:${stun[0]!.port}`,
        asString(stun[1]!),
        asString(never.address),
      ],
      lookup: async (name) => {
        if (name === 'localhost') return ['127.0.0.1'] // what /etc/hosts says; kept offline-proof
        throw new Error(`ENOTFOUND ${name}`)
      },
      onProgress: (e) => events.push(e),
    })
    expect(report.nat).toBe('open')
    // After the first answer its RFC 5780 alternate address comes next, before the rest of the list.
    expect(report.bindings.map((b) => asString(b.server))).toEqual([
      asString(stun[0]!),
      asString(report.bindings[0]!.otherAddress!),
    ])
    expect(dead.received).toHaveLength(fast.maxRequests)
    expect(never.received).toHaveLength(0)
    const timeouts = events.filter(
      (e) => e.type === 'holepunch:stun' && e.detail.outcome === 'timeout',
    )
    expect(timeouts).toHaveLength(1)
  })
})

describe('detectNat without STUN', () => {
  it('reports unknown, without an error, when no server answers', async () => {
    const dead = [await silentServer(), await silentServer()]
    const socket = await dgram()
    const report = await detectNat(socket, {
      ...fast,
      servers: dead.map((d) => asString(d.address)),
    })
    expect(report).toMatchObject({ nat: 'unknown', portAllocation: 'unknown', bindings: [] })
    expect(report.publicAddress).toBeUndefined()
    expect(report.reason).toMatch(/no STUN server answered/)
  })

  it('reports unknown when only one destination answers (cannot tell EIM from EDM)', async () => {
    const lone = await silentServer()
    lone.onMessage((data, from) =>
      lone.send(
        bindingResponse(transactionIdOf(data), [xorMappedAddress('203.0.113.4', 1234)]),
        from,
      ),
    )
    const socket = await dgram()
    const report = await detectNat(socket, { ...fast, servers: [asString(lone.address)] })
    expect(report).toMatchObject({
      nat: 'unknown',
      publicAddress: { host: '203.0.113.4', port: 1234 },
    })
    expect(report.reason).toMatch(/only one STUN destination/)
  })

  it('sees endpoint-dependent mapping and a sequential allocator from servers that say so', async () => {
    // Two servers that report what a sequential symmetric NAT would show: a new port per destination.
    let next = 40_000
    const servers = [await silentServer(), await silentServer(), await silentServer()]
    for (const s of servers) {
      const port = ++next
      s.onMessage((data, from) =>
        s.send(
          bindingResponse(transactionIdOf(data), [xorMappedAddress('203.0.113.4', port)]),
          from,
        ),
      )
    }
    const socket = await dgram()
    const report = await detectNat(socket, {
      ...fast,
      concurrency: 1,
      servers: servers.map((s) => asString(s.address)),
    })
    expect(report).toMatchObject({ nat: 'hard', portAllocation: 'sequential', portSteps: [1] })
    expect(report.publicAddress).toEqual({ host: '203.0.113.4', port: 40_002 })
  })

  it('rejects with the AbortError when aborted', async () => {
    const dead = await silentServer()
    const socket = await dgram()
    const controller = new AbortController()
    const pending = detectNat(socket, {
      servers: [asString(dead.address)],
      signal: controller.signal,
    })
    setTimeout(() => controller.abort(), 30)
    await expect(pending).rejects.toMatchObject({ name: 'AbortError' })
  })

  it('refuses a server entry that is not host:port with STUN_BAD_SERVER', async () => {
    const socket = await dgram()
    await expect(detectNat(socket, { servers: ['bad host:x'] })).rejects.toMatchObject({
      code: 'STUN_BAD_SERVER',
    })
  })
})
