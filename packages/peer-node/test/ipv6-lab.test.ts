import { mkdtemp, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import type { PeerInfo } from '@harddrive-party/peer-node'
import {
  type LabHost,
  type LabProcess,
  NatLab,
  netnsSupport,
  skipReason,
} from '@harddrive-party/test-lab'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'

// Two peers behind hard (symmetric) IPv4 NATs, which no punch connects, on a lab that also has
// IPv6 from the documentation prefix 2001:db8::/32 (inside the lab's namespaces only), routed
// by their routers without NAT: the dialer dials the acceptor's global IPv6 address directly.

const support = netnsSupport()
if (!support.ok) console.warn(`IPv6 lab: ${skipReason(support)}`)
const fixture = join(import.meta.dirname, 'fixtures/peer.ts')

describe.skipIf(!support.ok)('IPv6 between two hard NATs', () => {
  let lab: NatLab
  let broker: LabProcess
  let dirs: string
  const hosts: Record<string, LabHost> = {}
  const running = new Set<LabProcess>()

  beforeAll(async () => {
    lab = await NatLab.create({ nats: { B: 'hard', D: 'hard' }, ipv6: true })
    hosts.x = await lab.addHost('x', 'B')
    hosts.y = await lab.addHost('y', 'D')
    const conf = join(lab.lab.dir, 'mosquitto.conf')
    await writeFile(conf, 'listener 1883 198.51.100.1\nallow_anonymous true\npersistence false\n')
    broker = lab.pub.spawn('mosquitto', ['-c', conf])
    dirs = await mkdtemp(join(tmpdir(), 'hdp-ipv6-lab-'))
  }, 60_000)

  afterAll(async () => {
    await Promise.allSettled([...running].map((p) => p.stop(3000)))
    await broker?.stop(1000)
    await lab?.destroy()
    if (dirs) await rm(dirs, { recursive: true, force: true })
  })

  function start(host: LabHost, topic: string, dir: string): LabProcess {
    const stun = lab.stunServers.map((s) => `${s.host}:${s.port}`).join(',')
    const proc = host.ns.spawnNode(fixture, [
      ...['--dir', dir, '--broker', 'mqtt://198.51.100.1:1883', '--topic', topic],
      ...['--stun', stun, '--host', '::'],
    ])
    running.add(proc)
    return proc
  }

  async function peersOf(proc: LabProcess): Promise<PeerInfo[]> {
    const from = proc.lines.length
    proc.send('peers')
    const line = await proc.waitForLine(/^peers /, { after: from, timeoutMs: 5000 })
    return JSON.parse(line.slice('peers '.length)) as PeerInfo[]
  }

  it('hard <-> hard: announced global IPv6, dialled directly, no punch', async () => {
    const px = start(hosts.x!, 'v6', join(dirs, 'x'))
    const py = start(hosts.y!, 'v6', join(dirs, 'y'))
    const [, kx, , natX] = (await px.waitForLine(/^ready /, { timeoutMs: 30_000 })).split(' ')
    const [, ky, , natY] = (await py.waitForLine(/^ready /, { timeoutMs: 30_000 })).split(' ')
    expect([natX, natY]).toEqual(['hard', 'hard'])
    const readyAt = Date.now()
    await px.waitForLine(`connect ${ky}`, { timeoutMs: 60_000 })
    await py.waitForLine(`connect ${kx}`, { timeoutMs: 60_000 })
    const tookMs = Date.now() - readyAt
    const [fromX] = await peersOf(px)
    const [fromY] = await peersOf(py)
    const dialer = fromX?.connection?.initiator ? fromX : fromY
    const acceptorHost = dialer === fromX ? hosts.y! : hosts.x!
    expect(dialer?.attempt?.used).toBe('ipv6')
    expect(dialer?.attempt?.tried).toEqual(['ipv6'])
    expect(dialer?.connection?.remoteAddress.host).toBe(acceptorHost.address6)
    console.log(`hard<->hard over IPv6: connected ${tookMs} ms after both were ready`)
    for (const p of [px, py]) await p.stop(3000)
  }, 120_000)
})
