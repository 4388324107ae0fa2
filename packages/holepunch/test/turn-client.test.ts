import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { createTurnRelay, isHolepunchError, parseTurnServer } from '@harddrive-party/holepunch'
import { TurnClient } from '@harddrive-party/holepunch/internal'
import { hasCoturn, run, type StunServer, startStunServer } from '@harddrive-party/test-lab'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { bindingResponse, transactionIdOf } from './helpers/stun-responder'
import { trackedSockets } from './helpers/tracked'

const USER = { username: 'hdp', password: 's3cret', realm: 'lab.example' }
const skip = hasCoturn() ? '' : 'coturn (turnserver) is not installed'
if (skip) console.warn(`holepunch: TURN tests against coturn ${skip}`)

let coturn: StunServer | undefined
let dir: string | undefined
beforeAll(async () => {
  if (skip) return
  dir = await mkdtemp(join(tmpdir(), 'hdp-turn-'))
  coturn = await startStunServer({ dir, addresses: ['127.0.0.1'], turn: USER })
}, 20_000)
afterAll(async () => {
  await coturn?.stop()
  if (dir) await rm(dir, { recursive: true, force: true })
})

const { defer, dgram, udpServer } = trackedSockets()
const server = (password = USER.password) => ({
  host: '127.0.0.1',
  port: coturn!.endpoints[0]!.port,
  username: USER.username,
  password,
})

async function codeOf(p: Promise<unknown>): Promise<string> {
  const err = await p.then(
    () => undefined,
    (e: unknown) => e,
  )
  expect(isHolepunchError(err)).toBe(true)
  return (err as { code: string }).code
}

function nextMessage(socket: Awaited<ReturnType<typeof dgram>>) {
  return new Promise<{ data: Uint8Array; from: { host: string; port: number } }>((resolve) => {
    const off = socket.onMessage((data, from) => {
      off()
      resolve({ data: new Uint8Array(data), from })
    })
  })
}

async function udpListening(port: number): Promise<boolean> {
  return (await run('ss', ['-ulnH'])).includes(`127.0.0.1:${port} `)
}

describe('TurnClient against a real coturn', () => {
  it.skipIf(!!skip)(
    'allocates, permits, relays both ways (indications, then a channel), refreshes and deallocates',
    async () => {
      const ours = await dgram()
      const peer = await dgram()
      const received: Array<{ data: string; from: string }> = []
      const client = new TurnClient({
        server: server(),
        socket: ours,
        onData: (data, from) =>
          received.push({ data: Buffer.from(data).toString(), from: `${from.host}:${from.port}` }),
      })
      defer(() => client.close())
      const relayed = await client.allocate()
      expect(relayed.host).toBe('127.0.0.1')
      expect(relayed.port).toBeGreaterThanOrEqual(49152)
      expect(client.mapped).toEqual({ host: '127.0.0.1', port: ours.port })
      expect(await udpListening(relayed.port)).toBe(true)

      // No permission yet: coturn drops the peer's datagram.
      await peer.send(Buffer.from('early'), relayed.port, relayed.host)
      await new Promise((r) => setTimeout(r, 200))
      expect(received).toEqual([])

      await client.permit(['127.0.0.1'])
      await peer.send(Buffer.from('hello'), relayed.port, relayed.host)
      await expect.poll(() => received.length).toBe(1)
      expect(received[0]).toEqual({ data: 'hello', from: `127.0.0.1:${peer.port}` })

      // Us → peer by Send indication: the peer sees the relayed address as the sender.
      const back = nextMessage(peer)
      client.send({ host: '127.0.0.1', port: peer.port }, Buffer.from('hi back'))
      const got = await back
      expect(Buffer.from(got.data).toString()).toBe('hi back')
      expect(got.from).toEqual(relayed)

      // Channel: both directions keep working over ChannelData.
      expect(await client.bindChannel({ host: '127.0.0.1', port: peer.port })).toBe(0x4000)
      const viaChannel = nextMessage(peer)
      client.send({ host: '127.0.0.1', port: peer.port }, Buffer.from('channel out'))
      expect(Buffer.from((await viaChannel).data).toString()).toBe('channel out')
      await peer.send(Buffer.from('channel in'), relayed.port, relayed.host)
      await expect.poll(() => received.length).toBe(2)
      expect(received[1]?.data).toBe('channel in')

      expect(await client.refresh()).toBeGreaterThanOrEqual(30)

      await client.close()
      expect(client.closed).toBe(true)
      await expect.poll(() => udpListening(relayed.port)).toBe(false)
    },
    20_000,
  )

  it.skipIf(!!skip)('a wrong password is TURN_UNAUTHORIZED', async () => {
    const client = new TurnClient({ server: server('wrong'), socket: await dgram() })
    defer(() => client.close())
    expect(await codeOf(client.allocate())).toBe('TURN_UNAUTHORIZED')
  })

  it.skipIf(!!skip)('createTurnRelay bridges a peer to a local target over loopback', async () => {
    const target = await dgram() // stands for our transport's socket
    const peer = await dgram()
    const relay = await createTurnRelay({
      server: server(),
      target: { host: '127.0.0.1', port: target.port },
    })
    defer(() => relay.close())
    await relay.permit(['127.0.0.1'])
    const atTarget = nextMessage(target)
    await peer.send(Buffer.from('syn'), relay.relayed.port, relay.relayed.host)
    const first = await atTarget
    expect(Buffer.from(first.data).toString()).toBe('syn')
    expect(first.from.host).toBe('127.0.0.1')
    expect(first.from.port).not.toBe(peer.port) // the peer's loopback stand-in
    const atPeer = nextMessage(peer)
    await target.send(Buffer.from('syn-ack'), first.from.port, first.from.host)
    const reply = await atPeer
    expect(Buffer.from(reply.data).toString()).toBe('syn-ack')
    expect(reply.from).toEqual(relay.relayed)
    expect(relay.stats()).toEqual({ peers: 1, bytesIn: 3, bytesOut: 7 })
  })
})

describe('TurnClient against a hostile server', () => {
  const fast = { rtoMs: 20, maxRequests: 3, lastWaitFactor: 2 }
  const ALLOCATE_ERROR = 0x0113
  const ALLOCATE_SUCCESS = 0x0103
  const text = (s: string) => new TextEncoder().encode(s)
  const errorCode = (code: number): [number, Uint8Array] => [
    0x0009,
    new Uint8Array([0, 0, Math.floor(code / 100), code % 100, ...text('no')]),
  ]

  async function against(answer: (tid: Uint8Array, n: number) => Uint8Array | undefined) {
    const srv = await udpServer()
    srv.onMessage((data, from) => {
      const reply = answer(transactionIdOf(data), srv.received.length)
      if (reply) srv.send(reply, from)
    })
    const client = new TurnClient({
      server: { ...srv.address, username: 'u', password: 'p' },
      socket: await dgram(),
      ...fast,
    })
    defer(() => client.close())
    return { srv, client }
  }

  it('endless 401s: TURN_UNAUTHORIZED after one authenticated round', async () => {
    const { srv, client } = await against((tid) =>
      bindingResponse(tid, [errorCode(401), [0x0014, text('r')], [0x0015, text('n')]], {
        type: ALLOCATE_ERROR,
      }),
    )
    expect(await codeOf(client.allocate())).toBe('TURN_UNAUTHORIZED')
    expect(srv.received.length).toBe(2)
  })

  it('endless 438 stale nonces: bounded by maxAuthRounds', async () => {
    const { srv, client } = await against((tid, n) =>
      bindingResponse(
        tid,
        [errorCode(n === 1 ? 401 : 438), [0x0014, text('r')], [0x0015, text(`n${n}`)]],
        { type: ALLOCATE_ERROR },
      ),
    )
    expect(await codeOf(client.allocate())).toBe('TURN_UNAUTHORIZED')
    expect(srv.received.length).toBe(3)
  })

  it('an oversized REALM is TURN_BAD_RESPONSE', async () => {
    const { client } = await against((tid) =>
      bindingResponse(tid, [errorCode(401), [0x0014, new Uint8Array(2000)], [0x0015, text('n')]], {
        type: ALLOCATE_ERROR,
      }),
    )
    expect(await codeOf(client.allocate())).toBe('TURN_BAD_RESPONSE')
  })

  it('more than 32 attributes is TURN_BAD_RESPONSE', async () => {
    const many: Array<[number, Uint8Array]> = Array.from({ length: 40 }, () => [0x8022, text('x')])
    const { client } = await against((tid) =>
      bindingResponse(tid, many, { type: ALLOCATE_SUCCESS }),
    )
    expect(await codeOf(client.allocate())).toBe('TURN_BAD_RESPONSE')
  })

  it('a success with a bad MESSAGE-INTEGRITY is dropped, then TURN_UNAUTHORIZED', async () => {
    const { srv, client } = await against((tid, n) =>
      n === 1
        ? bindingResponse(tid, [errorCode(401), [0x0014, text('r')], [0x0015, text('n')]], {
            type: ALLOCATE_ERROR,
          })
        : bindingResponse(tid, [[0x0008, new Uint8Array(20).fill(7)]], { type: ALLOCATE_SUCCESS }),
    )
    expect(await codeOf(client.allocate())).toBe('TURN_UNAUTHORIZED')
    expect(srv.received.length).toBe(1 + fast.maxRequests)
  })

  it('a success without a relayed address is TURN_BAD_RESPONSE', async () => {
    const { client } = await against((tid) => bindingResponse(tid, [], { type: ALLOCATE_SUCCESS }))
    expect(await codeOf(client.allocate())).toBe('TURN_BAD_RESPONSE')
  })

  it('answers from another address are ignored: TURN_TIMEOUT', async () => {
    const srv = await udpServer()
    const liar = await udpServer()
    const relayed: [number, Uint8Array] = [
      0x0016,
      new Uint8Array([0, 1, 0x21 ^ 0x9c, 0x12 ^ 0x40, 0x21 ^ 203, 0x12 ^ 0, 0xa4 ^ 113, 0x42 ^ 9]),
    ]
    srv.onMessage((data, from) => {
      liar.send(bindingResponse(transactionIdOf(data), [relayed], { type: ALLOCATE_SUCCESS }), from)
    })
    const client = new TurnClient({
      server: { ...srv.address, username: 'u', password: 'p' },
      socket: await dgram(),
      ...fast,
    })
    defer(() => client.close())
    expect(await codeOf(client.allocate())).toBe('TURN_TIMEOUT')
    expect(liar.received.length).toBe(0)
    expect(srv.received.length).toBe(fast.maxRequests)
  })
})

describe('parseTurnServer', () => {
  it('reads turn://user:pass@host:port, percent-decoded, default port 3478', () => {
    expect(parseTurnServer('turn://al%40ice:p%3Ass@198.51.100.1:3479')).toEqual({
      host: '198.51.100.1',
      port: 3479,
      username: 'al@ice',
      password: 'p:ss',
    })
    expect(parseTurnServer('turn://a:b@[2001:db8::1]').port).toBe(3478)
    expect(parseTurnServer('turn://a:b@[2001:db8::1]').host).toBe('2001:db8::1')
  })

  it.each([
    'stun://a:b@1.2.3.4',
    'turn://1.2.3.4:3478',
    'turn://a:b@1.2.3.4:0',
    'turn://a:b@1.2.3.4?transport=tcp',
    `turn://a:${'x'.repeat(600)}@1.2.3.4`,
    'nonsense',
  ])('refuses %s with TURN_BAD_SERVER and never shows the password', (entry) => {
    try {
      parseTurnServer(entry)
      expect.unreachable()
    } catch (err) {
      expect(isHolepunchError(err) && err.code).toBe('TURN_BAD_SERVER')
      expect((err as Error).message).not.toContain('xxxx')
      if (entry.includes(':b@')) expect((err as Error).message).not.toContain(':b@')
    }
  })
})
