import { randomBytes } from 'node:crypto'
import { createHolePuncher, isHolepunchError, type RemotePeer } from '@harddrive-party/holepunch'
import { afterEach, describe, expect, inject, it } from 'vitest'
import { bindUdx, UDX, udxSocketFactory } from './helpers/sockets'

const stun = inject('stunEndpoints')
const skip = inject('stunSkipReason')
const closers: Array<() => Promise<unknown>> = []
afterEach(async () => {
  await Promise.allSettled(closers.splice(0).map((c) => c()))
})

// The README's usage block, run against real parts: udx-native sockets, coturn on loopback, and
// a second peer doing the same on its side.
describe.skipIf(!!skip)('README example', () => {
  it('detects the NAT, punches to a peer and sends over the winning path', async () => {
    const stunServers = stun.map((s) => `${s.host}:${s.port}`)
    const secret = randomBytes(32)
    const udx = new UDX()
    const socket = bindUdx(udx)
    const createSocket = udxSocketFactory(udx, '127.0.0.1')
    const other = bindUdx(udx)
    closers.push(
      () => socket.close(),
      () => other.close(),
    )
    const otherPuncher = createHolePuncher({ socket: other, stunServers })
    await otherPuncher.start()
    closers.push(() => otherPuncher.stop())
    const otherNat = await otherPuncher.detectNat()
    const peer: RemotePeer = {
      nat: otherNat.nat,
      addresses: [{ ...otherNat.publicAddress!, kind: 'public' }],
    }
    // Late STUN answers and punch packets share the port: wait for the application's datagram.
    const received = new Promise<string>((resolve) =>
      other.onMessage((data) => {
        if (Buffer.from(data).toString() === 'hello') resolve('hello')
      }),
    )
    const otherSide = otherPuncher.punch({
      secret,
      remote: { nat: 'open', addresses: [{ host: '127.0.0.1', port: socket.port }] },
    })
    const progress: string[] = []
    let relayed = false
    const useRelay = (_: RemotePeer): void => {
      relayed = true
    }

    // --- README lines ---
    const puncher = createHolePuncher({ socket, createSocket, stunServers })
    await puncher.start()
    const nat = await puncher.detectNat() // { nat: 'open' | 'easy' | 'hard' | 'unknown', publicAddress, ... }

    // The peer's NAT type and addresses come from its announcement; both sides call punch().
    try {
      const {
        socket: path,
        remote,
        technique,
      } = await puncher.punch(
        { secret, remote: { nat: peer.nat, addresses: peer.addresses } },
        { signal: AbortSignal.timeout(30_000), onProgress: (event) => progress.push(event.type) },
      )
      await path.send(new TextEncoder().encode('hello'), remote.port, remote.host) // dial from `path`
      expect(technique).toBe('direct')
    } catch (err) {
      if (isHolepunchError(err) && err.code === 'RELAY_REQUIRED') useRelay(peer)
    }
    await puncher.stop()
    // --- end of README lines ---

    expect(nat).toMatchObject({
      nat: 'open',
      publicAddress: { host: '127.0.0.1', port: socket.port },
    })
    await expect(received).resolves.toBe('hello')
    expect(progress).toEqual(['holepunch:attempt', 'holepunch:contact', 'holepunch:success'])
    expect(relayed).toBe(false)
    await expect(otherSide).resolves.toMatchObject({ remote: { port: socket.port } })
  })
})
