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

// Two peers behind hard IPv4 NATs (no punch connects them) with global IPv6 (2001:db8::/32,
// inside the lab only) behind routers whose IPv6 firewall drops every inbound packet nobody
// inside asked for, like a home router's. The acceptor opens its firewall towards the dialer
// first (pinhole datagrams), so the dialer's IPv6 dial is let in: a simultaneous open.

const support = netnsSupport()
if (!support.ok) console.warn(`IPv6 firewall lab: ${skipReason(support)}`)
const fixture = join(import.meta.dirname, 'fixtures/peer.ts')

describe.skipIf(!support.ok)('firewalled IPv6 between two hard NATs', () => {
  let lab: NatLab
  let broker: LabProcess
  let dirs: string
  const hosts: Record<string, LabHost> = {}
  const running = new Set<LabProcess>()

  beforeAll(async () => {
    lab = await NatLab.create({ nats: { B: 'hard', D: 'hard' }, ipv6: true })
    hosts.x = await lab.addHost('x', 'B')
    hosts.y = await lab.addHost('y', 'D')
    for (const router of lab.routers.values()) {
      await router.ns.exec('ip6tables', [
        ...['-A', 'FORWARD', '-i', 'wan', '-m', 'conntrack'],
        ...['--ctstate', 'NEW', '-j', 'DROP'],
      ])
    }
    const conf = join(lab.lab.dir, 'mosquitto.conf')
    await writeFile(conf, 'listener 1883 198.51.100.1\nallow_anonymous true\npersistence false\n')
    broker = lab.pub.spawn('mosquitto', ['-c', conf])
    dirs = await mkdtemp(join(tmpdir(), 'hdp-ipv6-fw-lab-'))
  }, 60_000)

  afterAll(async () => {
    await Promise.allSettled([...running].map((p) => p.stop(3000)))
    await broker?.stop(1000)
    await lab?.destroy()
    if (dirs) await rm(dirs, { recursive: true, force: true })
  })

  async function blocked(from: LabHost, to: LabHost): Promise<boolean> {
    try {
      await from.ns.exec('ping', ['-6', '-c', '1', '-W', '1', to.address6!])
      return false
    } catch {
      return true
    }
  }

  function start(host: LabHost, dir: string): LabProcess {
    const stun = lab.stunServers.map((s) => `${s.host}:${s.port}`).join(',')
    const proc = host.ns.spawnNode(fixture, [
      ...['--dir', dir, '--broker', 'mqtt://198.51.100.1:1883', '--topic', 'fw'],
      ...['--stun', stun, '--host', '::'],
    ])
    running.add(proc)
    return proc
  }

  async function peersOf(proc: LabProcess): Promise<PeerInfo[]> {
    const from = proc.lines.length
    proc.send('peers')
    const line = await proc.waitForLine(/^peers /, { after: from, timeoutMs: 10_000 })
    return JSON.parse(line.slice('peers '.length)) as PeerInfo[]
  }

  it('the firewalls drop unsolicited IPv6 both ways, yet the peers connect over IPv6', async () => {
    // The control: nothing gets in that nobody inside asked for.
    expect(await blocked(hosts.x!, hosts.y!)).toBe(true)
    expect(await blocked(hosts.y!, hosts.x!)).toBe(true)
    const px = start(hosts.x!, join(dirs, 'x'))
    const py = start(hosts.y!, join(dirs, 'y'))
    const [, kx, , natX] = (await px.waitForLine(/^ready /, { timeoutMs: 90_000 })).split(' ')
    const [, ky, , natY] = (await py.waitForLine(/^ready /, { timeoutMs: 90_000 })).split(' ')
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
    expect(dialer?.connection?.remoteAddress.host).toBe(acceptorHost.address6)
    console.log(
      `firewalled IPv6: connected ${tookMs} ms after both were ready; dialer tried ${dialer?.attempt?.tried.join(',')} over ${dialer?.attempt?.attempts} attempt(s)`,
    )
    for (const p of [px, py]) await p.stop(3000)
  }, 240_000)
})
