import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import {
  browse,
  browseOf,
  type PeerLab,
  peerLabSkipReason,
  peersOf,
  readyOf,
  startPeerLab,
} from './peer-lab'

// Two peers behind hard (symmetric) IPv4 NATs, which no punch connects, on a lab that also has
// IPv6 from the documentation prefix 2001:db8::/32 (inside the lab's namespaces only), routed
// by their routers without NAT: the dialer dials the acceptor's global IPv6 address directly.

const skip = peerLabSkipReason('IPv6 lab')

describe.skipIf(skip !== '')('IPv6 between two hard NATs', () => {
  let peerLab: PeerLab

  beforeAll(async () => {
    peerLab = await startPeerLab({
      nats: { B: 'hard', D: 'hard' },
      hosts: { x: 'B', y: 'D' },
      ipv6: true,
      prefix: 'hdp-ipv6-lab-',
    })
  }, 60_000)

  afterAll(() => peerLab?.stop())

  it('hard <-> hard: announced global IPv6, dialled directly, no punch; both browse', async () => {
    const { x, y } = peerLab.hosts
    const [sx, sy] = ['v6-x-share', 'v6-y-share']
    const dir = (name: string) => join(peerLab.dir, name)
    const px = peerLab.start(x!, { dir: dir('x'), topic: 'v6', share: await peerLab.share(sx) })
    const py = peerLab.start(y!, { dir: dir('y'), topic: 'v6', share: await peerLab.share(sy) })
    const { key: kx, nat: natX } = await readyOf(px)
    const { key: ky, nat: natY } = await readyOf(py)
    expect([natX, natY]).toEqual(['hard', 'hard'])
    const readyAt = Date.now()
    await px.waitForLine(`connect ${ky}`, { timeoutMs: 60_000 })
    await py.waitForLine(`connect ${kx}`, { timeoutMs: 60_000 })
    const tookMs = Date.now() - readyAt
    const [fromX] = await peersOf(px)
    const [fromY] = await peersOf(py)
    const dialer = fromX?.connection?.initiator ? fromX : fromY
    const acceptorHost = dialer === fromX ? y! : x!
    expect(dialer?.attempt?.used).toBe('ipv6')
    expect(dialer?.attempt?.tried).toEqual(['ipv6'])
    expect(dialer?.connection?.remoteAddress.host).toBe(acceptorHost.address6)
    console.log(`hard<->hard over IPv6: connected ${tookMs} ms after both were ready`)
    expect(await browse(px, ky, sy)).toEqual(browseOf(sy))
    expect(await browse(py, kx, sx)).toEqual(browseOf(sx))
    for (const p of [px, py]) await p.stop(3000)
  }, 120_000)
})
