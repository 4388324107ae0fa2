import { randomBytes } from 'node:crypto'
import {
  createHolePuncher,
  type HolePuncher,
  type HolepunchProgressEvent,
  isHolepunchError,
  type PunchOptions,
  type RemotePeer,
} from '@harddrive-party/holepunch'
import { afterEach, describe, expect, it } from 'vitest'
import { bindUdx, UDX, type UdxDatagramSocket, udxSocketFactory } from './helpers/sockets'
import { UdpServer } from './helpers/udp-server'

// Two peers on loopback with real udx-native sockets. There is no NAT here (both are "open"),
// so these tests cover the protocol, the lifecycle and the bounds; test/nat-lab.test.ts covers NATs.

const cleanups: Array<() => Promise<unknown>> = []
afterEach(async () => {
  await Promise.allSettled(
    cleanups
      .splice(0)
      .reverse()
      .map((c) => c()),
  )
})

interface Peer {
  socket: UdxDatagramSocket
  puncher: HolePuncher
  factory: ReturnType<typeof udxSocketFactory>
  events: HolepunchProgressEvent[]
}

async function peer(options: { factory?: boolean } = {}): Promise<Peer> {
  const udx = new UDX()
  const socket = bindUdx(udx)
  const factory = udxSocketFactory(udx, '127.0.0.1')
  const puncher = createHolePuncher({
    socket,
    ...(options.factory === false ? {} : { createSocket: factory }),
  })
  await puncher.start()
  cleanups.push(async () => {
    await puncher.stop()
    await Promise.allSettled([socket.close(), ...factory.made.map((s) => s.close())])
  })
  return { socket, puncher, factory, events: [] }
}

const open = (p: { port: number }, host = '127.0.0.1'): RemotePeer => ({
  nat: 'open',
  addresses: [{ host, port: p.port, kind: 'public' }],
})
const local = (nat: 'open' | 'easy' | 'hard', port: number) => ({
  nat,
  portAllocation: 'random' as const,
  publicAddress: { host: '127.0.0.1', port },
})
const track = (p: Peer, extra: PunchOptions = {}): PunchOptions => ({
  ...extra,
  onProgress: (e) => p.events.push(e),
})

describe('HolePuncher on loopback', () => {
  it('connects two open peers directly: a two-way exchange on the main sockets', async () => {
    const [a, b] = [await peer(), await peer()]
    const secret = randomBytes(32)
    const [ra, rb] = await Promise.all([
      a.puncher.punch(
        { secret, local: local('open', a.socket.port), remote: open(b.socket) },
        track(a),
      ),
      b.puncher.punch(
        { secret, local: local('open', b.socket.port), remote: open(a.socket) },
        track(b),
      ),
    ])
    expect(ra).toMatchObject({
      technique: 'direct',
      created: false,
      remote: { host: '127.0.0.1', port: b.socket.port },
    })
    expect(ra.socket).toBe(a.socket)
    expect(rb.remote.port).toBe(a.socket.port)
    expect(ra.packetsSent).toBeGreaterThan(0)
    expect(a.events.map((e) => e.type)).toEqual([
      'holepunch:attempt',
      'holepunch:contact',
      'holepunch:success',
    ])
    const success = a.events.at(-1)
    expect(success?.type === 'holepunch:success' && success.detail).toMatchObject({
      technique: 'direct',
      remote: { port: b.socket.port },
      localPort: a.socket.port,
    })
  })

  it('never takes stray, forged or foreign-secret packets for the peer', async () => {
    const [a, b] = [await peer(), await peer()]
    const attacker = await UdpServer.bind()
    cleanups.push(() => attacker.close())
    const secret = randomBytes(32)
    // The attacker knows the format but not the secret: garbage, STUN-looking bytes, forged MACs.
    const forged = Buffer.alloc(40)
    forged.write('HDPH', 0, 'latin1')
    forged[4] = 1
    forged[5] = 2
    const flood = setInterval(() => {
      for (const bytes of [
        randomBytes(40),
        Buffer.from('0101000c2112a442', 'hex'),
        Buffer.concat([forged.subarray(0, 8), randomBytes(32)]),
      ]) {
        attacker.send(bytes, { port: a.socket.port, address: '127.0.0.1' })
      }
    }, 2)
    cleanups.push(async () => clearInterval(flood))
    await new Promise((r) => setTimeout(r, 50))
    const [ra] = await Promise.all([
      a.puncher.punch({ secret, local: local('open', a.socket.port), remote: open(b.socket) }),
      b.puncher.punch({ secret, local: local('open', b.socket.port), remote: open(a.socket) }),
    ])
    expect(ra.remote).toEqual({ host: '127.0.0.1', port: b.socket.port })
    expect(attacker.received).toHaveLength(0) // nothing authenticated came from it, so nothing went to it

    // A peer with another secret (another topic) is ignored both ways: a bounded failure.
    const c = await peer()
    const results = await Promise.allSettled([
      a.puncher.punch(
        { secret: randomBytes(32), local: local('open', a.socket.port), remote: open(c.socket) },
        track(a, { timeoutMs: 400 }),
      ),
      c.puncher.punch(
        { secret: randomBytes(32), local: local('open', c.socket.port), remote: open(a.socket) },
        { timeoutMs: 400 },
      ),
    ])
    for (const r of results) {
      expect(r.status).toBe('rejected')
      const err = r.status === 'rejected' ? r.reason : undefined
      expect(isHolepunchError(err) && err.code).toBe('PUNCH_TIMEOUT')
      expect((err as Error).message).toMatch(/no packet from the peer/)
    }
  })

  it('ignores its own probes reflected back at it', async () => {
    const a = await peer()
    const mirror = await UdpServer.bind()
    cleanups.push(() => mirror.close())
    mirror.onMessage((data, from) => mirror.send(data, from))
    const err = await a.puncher
      .punch(
        {
          secret: randomBytes(32),
          local: local('open', a.socket.port),
          remote: open(mirror.address),
        },
        { timeoutMs: 300 },
      )
      .catch((e: unknown) => e)
    expect(isHolepunchError(err) && err.code).toBe('PUNCH_TIMEOUT')
    expect(mirror.received.length).toBeGreaterThan(0)
  })

  it('bounds an attempt in packets as well as time', async () => {
    const a = await peer()
    const sink = await UdpServer.bind()
    cleanups.push(() => sink.close())
    const err = await a.puncher
      .punch(
        {
          secret: randomBytes(32),
          local: local('open', a.socket.port),
          remote: open(sink.address),
        },
        track(a, { timeoutMs: 600, maxPackets: 7, probeIntervalMs: 10 }),
      )
      .catch((e: unknown) => e)
    expect(isHolepunchError(err) && err.code).toBe('PUNCH_TIMEOUT')
    expect(sink.received).toHaveLength(7)
    const failure = a.events.at(-1)
    expect(failure?.type === 'holepunch:failure' && failure.detail).toMatchObject({
      code: 'PUNCH_TIMEOUT',
      packetsSent: 7,
    })
  })

  it('stops on abort with the AbortError, reports it, and leaves no listener behind', async () => {
    const a = await peer()
    const before = a.socket.raw.listenerCount('message')
    const controller = new AbortController()
    const pending = a.puncher.punch(
      { secret: randomBytes(32), local: local('open', a.socket.port), remote: open({ port: 9 }) },
      track(a, { signal: controller.signal }),
    )
    setTimeout(() => controller.abort(), 50)
    await expect(pending).rejects.toMatchObject({ name: 'AbortError' })
    expect(a.socket.raw.listenerCount('message')).toBe(before)
    expect(a.events.at(-1)).toMatchObject({
      type: 'holepunch:failure',
      detail: { code: 'ABORTED' },
    })
  })

  it('has an idempotent lifecycle; stop() ends attempts in flight', async () => {
    const a = await peer()
    await a.puncher.start()
    const pending = a.puncher.punch({
      secret: randomBytes(32),
      local: local('open', a.socket.port),
      remote: open({ port: 9 }),
    })
    await a.puncher.stop()
    await expect(pending).rejects.toMatchObject({ name: 'AbortError' })
    await a.puncher.stop()
    // Not started: a typed rejection (issue 10: one lifecycle), never a synchronous throw.
    await expect(
      a.puncher.punch({ secret: randomBytes(32), remote: open({ port: 9 }) }),
    ).rejects.toMatchObject({ code: 'NOT_STARTED', message: expect.stringMatching(/not started/) })
    await expect(a.puncher.detectNat()).rejects.toMatchObject({ code: 'NOT_STARTED' })
    await a.puncher.start()
    const again = a.puncher.punch(
      { secret: randomBytes(32), local: local('open', a.socket.port), remote: open({ port: 9 }) },
      { timeoutMs: 50 },
    )
    await expect(again).rejects.toMatchObject({ code: 'PUNCH_TIMEOUT' })
  })

  it('fails at once with typed errors when no technique can work', async () => {
    const a = await peer({ factory: false })
    const secret = randomBytes(32)
    const hardPeer: RemotePeer = {
      nat: 'hard',
      portAllocation: 'random',
      addresses: [{ host: '127.0.0.1', port: 0, kind: 'public' }],
    }
    await expect(
      a.puncher.punch({ secret, local: local('hard', a.socket.port), remote: hardPeer }, track(a)),
    ).rejects.toMatchObject({
      code: 'RELAY_REQUIRED',
    })
    expect(a.events.map((e) => e.type)).toEqual(['holepunch:attempt', 'holepunch:failure'])
    const easyPeer: RemotePeer = {
      nat: 'easy',
      addresses: [{ host: '127.0.0.1', port: 4000, kind: 'public' }],
    }
    await expect(
      a.puncher.punch({ secret, local: local('hard', a.socket.port), remote: easyPeer }),
    ).rejects.toMatchObject({
      code: 'NO_SOCKET_FACTORY',
    })
  })
})

describe('the birthday method on loopback', () => {
  // Without a NAT the hard side's opening packets reach the easy side at once; this checks the
  // plumbing (extra sockets, winner hand-over, clean-up), the lab checks the odds.
  const birthday: PunchOptions = {
    birthdaySockets: 16,
    maxProbes: 20,
    openingTtl: 0,
    timeoutMs: 5000,
  }

  it('hands over the socket that won and closes every other extra socket', async () => {
    const [hard, easy] = [await peer(), await peer()]
    const secret = randomBytes(32)
    const [rh, re] = await Promise.all([
      hard.puncher.punch(
        {
          secret,
          local: local('hard', hard.socket.port),
          remote: {
            nat: 'easy',
            addresses: [{ host: '127.0.0.1', port: easy.socket.port, kind: 'public' }],
          },
        },
        track(hard, birthday),
      ),
      easy.puncher.punch(
        {
          secret,
          local: local('easy', easy.socket.port),
          remote: { nat: 'hard', addresses: [{ host: '127.0.0.1', port: 0, kind: 'public' }] },
        },
        track(easy, birthday),
      ),
    ])
    expect(rh.technique).toBe('birthday')
    expect(hard.factory.made).toHaveLength(16)
    const stillOpen = hard.factory.made.filter((s) => !s.raw.closing)
    expect(stillOpen).toEqual(rh.created ? [rh.socket] : [])
    expect(re.remote.port).toBe(rh.socket.port)
    expect(rh.remote.port).toBe(easy.socket.port)
    expect(hard.events.map((e) => e.type)).toContain('holepunch:sockets')
  })

  it('runs one birthday attempt at a time per puncher', async () => {
    const [hard, easy] = [await peer(), await peer()]
    const silent = await UdpServer.bind()
    cleanups.push(() => silent.close())
    const secret = randomBytes(32)
    const log: string[] = []
    const record = (name: string) => (e: HolepunchProgressEvent) => log.push(`${name} ${e.type}`)
    const first = hard.puncher.punch(
      {
        secret,
        local: local('hard', hard.socket.port),
        remote: {
          nat: 'easy',
          addresses: [{ host: '127.0.0.1', port: silent.address.port, kind: 'public' }],
        },
      },
      { ...birthday, timeoutMs: 300, onProgress: record('first') },
    )
    const second = hard.puncher.punch(
      {
        secret,
        local: local('hard', hard.socket.port),
        remote: {
          nat: 'easy',
          addresses: [{ host: '127.0.0.1', port: easy.socket.port, kind: 'public' }],
        },
      },
      { ...birthday, onProgress: record('second') },
    )
    const [r1, r2, re] = await Promise.allSettled([
      first,
      second,
      easy.puncher.punch(
        {
          secret,
          local: local('easy', easy.socket.port),
          remote: { nat: 'hard', addresses: [{ host: '127.0.0.1', port: 0, kind: 'public' }] },
        },
        birthday,
      ),
    ])
    expect(r1.status).toBe('rejected')
    expect(r2.status).toBe('fulfilled')
    expect(re.status).toBe('fulfilled')
    expect(log.indexOf('first holepunch:failure')).toBeLessThan(
      log.indexOf('second holepunch:attempt'),
    )
    expect(log.filter((l) => l.startsWith('first'))).toEqual([
      'first holepunch:attempt',
      'first holepunch:sockets',
      'first holepunch:failure',
    ])
    // 16 sockets per attempt, each attempt's losers closed.
    expect(hard.factory.made).toHaveLength(32)
  })
})
