import type { PeerInfo, PortMappingInfo } from '@harddrive-party/peer-node'
import {
  hasMiniupnpd,
  type LabHost,
  type LabProcess,
  type Miniupnpd,
  startMiniupnpd,
} from '@harddrive-party/test-lab'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import {
  ask,
  browse,
  browseOf,
  type PeerLab,
  peerLabSkipReason,
  readyOf,
  startPeerLab,
} from './peer-lab'

// Two peers behind two hard (symmetric) NATs, which no punch connects. One router runs Debian's
// real miniupnpd (NAT-PMP + UPnP IGD, nftables backend) in its namespace: the peer behind it
// maps its port, announces the mapped address, and the other hard-NAT peer dials it directly.

const labSkip = peerLabSkipReason('port mapping lab')
const reason =
  labSkip ||
  (hasMiniupnpd()
    ? ''
    : 'skipped: miniupnpd is not installed (apt-get install --no-install-recommends miniupnpd)')
if (reason && !labSkip) console.warn(`port mapping lab: ${reason}`)

describe.skipIf(reason !== '')('hard NAT with a port mapping (real miniupnpd)', () => {
  let peerLab: PeerLab
  let lab: PeerLab['lab']
  let upnp: Miniupnpd
  let hosts: Record<string, LabHost>

  beforeAll(async () => {
    peerLab = await startPeerLab({
      nats: { B: 'hard', D: 'hard' },
      hosts: { m: 'B', h: 'D' },
      prefix: 'hdp-port-mapping-lab-',
    })
    lab = peerLab.lab
    hosts = { mapped: peerLab.hosts.m!, hard: peerLab.hosts.h! }
    const [stun, other] = lab.stunServers
    upnp = await startMiniupnpd(lab.router('B'), {
      stun: { host: stun!.host, port: stun!.port, otherHost: other!.host },
      dir: lab.lab.dir,
    })
    peerLab.onStop(() => upnp.stop())
    // miniupnpd enables forwarding once its STUN check says the router's wan is public.
    for (let i = 0; i < 100 && !upnp.process.stderr.includes('Port forwarding is now enabled'); i++)
      await new Promise((resolve) => setTimeout(resolve, 100))
    expect(upnp.process.stderr).toContain('Port forwarding is now enabled')
  }, 60_000)

  afterAll(() => peerLab?.stop())

  /** A peer sharing a folder named after its role and topic. */
  async function start(host: LabHost, topic: string, dir: string, extra: string[] = []) {
    const share = `${topic}-${host === hosts.mapped ? 'mapped' : 'hard'}`
    const proc = peerLab.start(host, { dir, topic, share: await peerLab.share(share), extra })
    return Object.assign(proc, { shareName: share })
  }

  /** Both browse each other's share. */
  async function browseBoth(
    x: LabProcess & { shareName: string },
    kx: string,
    y: LabProcess & { shareName: string },
    ky: string,
  ) {
    expect(await browse(x, ky, y.shareName)).toEqual(browseOf(y.shareName))
    expect(await browse(y, kx, x.shareName)).toEqual(browseOf(x.shareName))
  }

  for (const protocol of ['nat-pmp', 'upnp'] as const) {
    it(`${protocol}: the mapping is made, announced and used (hard dials mapped-hard directly)`, async () => {
      const topic = `mapped-${protocol}`
      const [dHard, dMapped] = await peerLab.dirsWhereFirstDials(topic)
      const mapped = await start(hosts.mapped!, topic, dMapped, ['--port-mapping', protocol])
      const hard = await start(hosts.hard!, topic, dHard)
      const { key: kMapped, port, nat: natMapped } = await readyOf(mapped)
      const { key: kHard, nat: natHard } = await readyOf(hard)
      expect(natHard).toBe('hard')
      expect(natMapped).toBe('open') // hard behind its router, reachable through the mapping
      const mapping = await ask<PortMappingInfo>(mapped, 'mapping')
      expect(mapping).toMatchObject({
        protocol,
        gateway: lab.router('B').lanAddress,
        externalHost: lab.router('B').publicAddress,
        internalPort: port,
      })
      expect(await upnp.redirects()).toEqual([
        expect.stringContaining(
          `dport ${mapping.externalPort} dnat ip to ${hosts.mapped!.address}:${port}`,
        ),
      ])
      const readyAt = Date.now()
      await hard.waitForLine(`connect ${kMapped}`, { timeoutMs: 60_000 })
      await mapped.waitForLine(`connect ${kHard}`, { timeoutMs: 60_000 })
      const tookMs = Date.now() - readyAt
      const [seen] = await ask<PeerInfo[]>(hard, 'peers')
      expect(seen?.connected).toBe(true)
      expect(seen?.attempt?.used).toBe('direct')
      expect(seen?.connection?.remoteAddress).toEqual({
        host: mapping.externalHost,
        port: mapping.externalPort,
      })
      console.log(`hard -> hard+${protocol}: direct in ${tookMs} ms after both were ready`)
      await browseBoth(mapped, kMapped, hard, kHard)
      // Stop deletes the mapping on the router (for UPnP, see port-mapping.ts: the library's
      // delete is refused by miniupnpd, the lease ends it).
      mapped.send('stop')
      await mapped.waitForLine(/^stopped /, { timeoutMs: 15_000 })
      if (protocol === 'nat-pmp') expect(await upnp.redirects()).toEqual([])
      else console.log(`upnp: redirects after stop: ${JSON.stringify(await upnp.redirects())}`)
      await hard.stop(3000)
    }, 120_000)
  }

  it('nat-pmp: the mapped side dials the hard side: both punch, no relay', async () => {
    const topic = 'mapped-dials'
    const [dMapped, dHard] = await peerLab.dirsWhereFirstDials(topic)
    const mapped = await start(hosts.mapped!, topic, dMapped, ['--port-mapping', 'nat-pmp'])
    const hard = await start(hosts.hard!, topic, dHard)
    const { key: kMapped, nat: natMapped } = await readyOf(mapped)
    const { key: kHard } = await readyOf(hard)
    expect(natMapped).toBe('open')
    const readyAt = Date.now()
    await mapped.waitForLine(`connect ${kHard}`, { timeoutMs: 60_000 })
    await hard.waitForLine(`connect ${kMapped}`, { timeoutMs: 60_000 })
    const [seen] = await ask<PeerInfo[]>(mapped, 'peers')
    expect(seen?.connection?.initiator).toBe(true)
    expect(seen?.attempt?.used).toBe('simultaneous')
    console.log(`hard+nat-pmp -> hard: ${seen?.attempt?.used} in ${Date.now() - readyAt} ms`)
    await browseBoth(mapped, kMapped, hard, kHard)
    for (const p of [mapped, hard]) await p.stop(3000)
  }, 120_000)
})
