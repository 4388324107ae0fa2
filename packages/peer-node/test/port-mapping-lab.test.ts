import { mkdtemp, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import type { PeerInfo, PortMappingInfo } from '@harddrive-party/peer-node'
import {
  hasMiniupnpd,
  type LabHost,
  type LabProcess,
  type Miniupnpd,
  NatLab,
  netnsSupport,
  skipReason,
  startMiniupnpd,
} from '@harddrive-party/test-lab'
import { loadOrCreateIdentity } from '@harddrive-party/transport'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'

// Two peers behind two hard (symmetric) NATs, which no punch connects. One router runs Debian's
// real miniupnpd (NAT-PMP + UPnP IGD, nftables backend) in its namespace: the peer behind it
// maps its port, announces the mapped address, and the other hard-NAT peer dials it directly.

const support = netnsSupport()
const reason = !support.ok
  ? skipReason(support)
  : hasMiniupnpd()
    ? ''
    : 'skipped: miniupnpd is not installed (apt-get install --no-install-recommends miniupnpd)'
if (reason) console.warn(`port mapping lab: ${reason}`)
const fixture = join(import.meta.dirname, 'fixtures/peer.ts')
const hex = (key: Uint8Array) => Buffer.from(key).toString('hex')

describe.skipIf(reason !== '')('hard NAT with a port mapping (real miniupnpd)', () => {
  let lab: NatLab
  let upnp: Miniupnpd
  let broker: LabProcess
  let dirs: string
  const hosts: Record<string, LabHost> = {}
  const running = new Set<LabProcess>()

  beforeAll(async () => {
    lab = await NatLab.create({ nats: { B: 'hard', D: 'hard' } })
    hosts.mapped = await lab.addHost('m', 'B')
    hosts.hard = await lab.addHost('h', 'D')
    const [stun, other] = lab.stunServers
    upnp = await startMiniupnpd(lab.router('B'), {
      stun: { host: stun!.host, port: stun!.port, otherHost: other!.host },
      dir: lab.lab.dir,
    })
    // miniupnpd enables forwarding once its STUN check says the router's wan is public.
    await upnp.process.waitForLine(/never/, { timeoutMs: 1 }).catch(() => {})
    for (let i = 0; i < 100 && !upnp.process.stderr.includes('Port forwarding is now enabled'); i++)
      await new Promise((resolve) => setTimeout(resolve, 100))
    expect(upnp.process.stderr).toContain('Port forwarding is now enabled')
    const conf = join(lab.lab.dir, 'mosquitto.conf')
    await writeFile(conf, 'listener 1883 198.51.100.1\nallow_anonymous true\npersistence false\n')
    broker = lab.pub.spawn('mosquitto', ['-c', conf])
    dirs = await mkdtemp(join(tmpdir(), 'hdp-port-mapping-lab-'))
  }, 60_000)

  afterAll(async () => {
    await Promise.allSettled([...running].map((p) => p.stop(3000)))
    await broker?.stop(1000)
    await upnp?.stop()
    await lab?.destroy()
    if (dirs) await rm(dirs, { recursive: true, force: true })
  })

  function start(host: LabHost, topic: string, dir: string, extra: string[] = []): LabProcess {
    const stun = lab.stunServers.map((s) => `${s.host}:${s.port}`).join(',')
    const proc = host.ns.spawnNode(fixture, [
      ...['--dir', dir, '--broker', 'mqtt://198.51.100.1:1883', '--topic', topic],
      ...['--stun', stun, '--host', '0.0.0.0', ...extra],
    ])
    running.add(proc)
    return proc
  }

  async function ask<T>(proc: LabProcess, command: string): Promise<T> {
    const from = proc.lines.length
    proc.send(command)
    const line = await proc.waitForLine(new RegExp(`^${command} `), {
      after: from,
      timeoutMs: 5000,
    })
    return JSON.parse(line.slice(command.length + 1)) as T
  }

  /** Storage directories whose keys make the first one the dialer (lower key). */
  async function dirsWhereFirstDials(topic: string): Promise<[string, string]> {
    const dx = join(dirs, `${topic}-x`)
    const kx = hex((await loadOrCreateIdentity(dx)).publicKey)
    for (let i = 0; ; i++) {
      const dy = join(dirs, `${topic}-y${i}`)
      if (hex((await loadOrCreateIdentity(dy)).publicKey) > kx) return [dx, dy]
    }
  }

  for (const protocol of ['nat-pmp', 'upnp'] as const) {
    it(`${protocol}: the mapping is made, announced and used (hard dials mapped-hard directly)`, async () => {
      const topic = `mapped-${protocol}`
      const [dHard, dMapped] = await dirsWhereFirstDials(topic)
      const mapped = start(hosts.mapped!, topic, dMapped, ['--port-mapping', protocol])
      const hard = start(hosts.hard!, topic, dHard)
      const [, kMapped, port, natMapped] = (
        await mapped.waitForLine(/^ready /, { timeoutMs: 30_000 })
      ).split(' ')
      const [, kHard, , natHard] = (await hard.waitForLine(/^ready /, { timeoutMs: 30_000 })).split(
        ' ',
      )
      expect(natHard).toBe('hard')
      expect(natMapped).toBe('open') // hard behind its router, reachable through the mapping
      const mapping = await ask<PortMappingInfo>(mapped, 'mapping')
      expect(mapping).toMatchObject({
        protocol,
        gateway: lab.router('B').lanAddress,
        externalHost: lab.router('B').publicAddress,
        internalPort: Number(port),
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
    const [dMapped, dHard] = await dirsWhereFirstDials(topic)
    const mapped = start(hosts.mapped!, topic, dMapped, ['--port-mapping', 'nat-pmp'])
    const hard = start(hosts.hard!, topic, dHard)
    const [, kMapped, , natMapped] = (
      await mapped.waitForLine(/^ready /, { timeoutMs: 30_000 })
    ).split(' ')
    const [, kHard] = (await hard.waitForLine(/^ready /, { timeoutMs: 30_000 })).split(' ')
    expect(natMapped).toBe('open')
    const readyAt = Date.now()
    await mapped.waitForLine(`connect ${kHard}`, { timeoutMs: 60_000 })
    await hard.waitForLine(`connect ${kMapped}`, { timeoutMs: 60_000 })
    const [seen] = await ask<PeerInfo[]>(mapped, 'peers')
    expect(seen?.connection?.initiator).toBe(true)
    expect(seen?.attempt?.used).toBe('simultaneous')
    console.log(`hard+nat-pmp -> hard: ${seen?.attempt?.used} in ${Date.now() - readyAt} ms`)
    for (const p of [mapped, hard]) await p.stop(3000)
  }, 120_000)
})
