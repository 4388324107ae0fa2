import type { LabProcess } from '@harddrive-party/test-lab'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import {
  browse,
  browseOf,
  connectedPeer,
  type PeerLab,
  peerLabSkipReason,
  readyOf,
  startPeerLab,
} from './peer-lab'

// Two peers behind hard IPv4 NATs announce global IPv6 addresses, but their routers drop every
// IPv6 packet (an address handed out on a network whose IPv6 does not work: common at home).
// The IPv6 dial fails; IPv4 punching cannot work; a member on the public net relays. Before,
// the dialer stopped after the IPv6 dial (only TURN came next) and the pair never connected.

const skip = peerLabSkipReason('dead IPv6 NAT lab')

describe.skipIf(skip !== '')('dead IPv6 between two hard NATs, a relaying member', () => {
  let peerLab: PeerLab

  beforeAll(async () => {
    peerLab = await startPeerLab({
      nats: { A: 'hard', B: 'hard' },
      hosts: { a: 'A', b: 'B', r: undefined },
      ipv6: true,
      prefix: 'hdp-ipv6-dead-lab-',
    })
    for (const router of ['A', 'B'])
      await peerLab.lab.routers.get(router)!.ns.exec('ip6tables', ['-I', 'FORWARD', '-j', 'DROP'])
  }, 60_000)

  afterAll(() => peerLab?.stop())

  it('the dialer goes on from the failed IPv6 dial to the relaying member', async () => {
    const { hosts } = peerLab
    // The control: IPv6 between the two does not get through at all.
    await expect(
      hosts.a!.ns.exec('ping', ['-6', '-c', '1', '-W', '1', hosts.b!.address6!]),
    ).rejects.toThrow()
    const topic = 'dead ipv6'
    const [da, db] = await peerLab.dirsWhereFirstDials(topic)
    const shareName = 'dead-ipv6-share'
    const share = await peerLab.share(shareName)
    const relay = peerLab.start(hosts.r!, {
      dir: `${peerLab.dir}/relay`,
      topic,
      extra: ['--relay', String(8 * 1024 * 1024)],
    })
    const a = peerLab.start(hosts.a!, { dir: da, topic, share })
    const b = peerLab.start(hosts.b!, { dir: db, topic })
    const ready = (p: LabProcess) =>
      p.waitForLine(/^ready /, { timeoutMs: 180_000 }).then(() => readyOf(p))
    const [r, ka, kb] = await Promise.all([ready(relay), ready(a), ready(b)])
    expect([r.nat, ka.nat, kb.nat]).toEqual(['open', 'hard', 'hard'])
    const readyAt = Date.now()
    await a.waitForLine(`connect ${kb.key}`, { timeoutMs: 120_000 })
    await b.waitForLine(`connect ${ka.key}`, { timeoutMs: 30_000 })
    const tookMs = Date.now() - readyAt

    const fromA = await connectedPeer(a, kb.key)
    console.log(
      `dead IPv6: connected ${tookMs} ms after ready; the dialer tried ${fromA.attempt?.tried.join(',')} over ${fromA.attempt?.attempts} attempt(s), used ${fromA.attempt?.used}`,
    )
    expect(fromA.connection?.carrier).toBe('relay')
    expect(fromA.attempt?.used).toBe('relay')
    // In one attempt: the IPv6 dial, then the relay.
    expect(fromA.attempt?.tried).toEqual(['ipv6', 'relay'])
    expect(await browse(b, ka.key, shareName)).toEqual(browseOf(shareName))
  }, 360_000)
})
