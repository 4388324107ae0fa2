import { createHash, randomBytes } from 'node:crypto'
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { peerName } from '@harddrive-party/peer-node'
import { type LabProcess, NatLab, netnsSupport, skipReason } from '@harddrive-party/test-lab'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'

// A download across real NATs (test-lab) whose link goes down for 10 s mid-transfer.
const support = netnsSupport()
if (!support.ok) console.warn(`downloads NAT lab: ${skipReason(support)}`)
const fixture = join(import.meta.dirname, 'fixtures/download-peer.ts')

describe.skipIf(!support.ok)('a download across NATs', () => {
  let lab: NatLab
  let broker: LabProcess
  let dirs: string
  const running = new Set<LabProcess>()

  beforeAll(async () => {
    lab = await NatLab.create({ nats: { A: 'easy', B: 'easy' } })
    const conf = join(lab.lab.dir, 'mosquitto.conf')
    await writeFile(conf, 'listener 1883 198.51.100.1\nallow_anonymous true\npersistence false\n')
    broker = lab.pub.spawn('mosquitto', ['-c', conf])
    dirs = await mkdtemp(join(tmpdir(), 'hdp-downloads-lab-'))
  }, 60_000)

  afterAll(async () => {
    await Promise.allSettled([...running].map((p) => p.stop(1000)))
    await broker?.stop(1000)
    await lab?.destroy()
    if (dirs) await rm(dirs, { recursive: true, force: true })
  })

  it('resumes by itself after `ip link set down` for 10 s mid-transfer: byte-exact', async () => {
    const a = await lab.addHost('a', 'A')
    const b = await lab.addHost('b', 'B')
    const stun = lab.stunServers.map((s) => `${s.host}:${s.port}`).join(',')
    const common = [
      '--broker',
      'mqtt://198.51.100.1:1883',
      '--topic',
      'lab downloads',
      '--stun',
      stun,
      '--host',
      '0.0.0.0',
    ]
    const share = join(dirs, 'share')
    await mkdir(share)
    const data = randomBytes(48 * 1024 * 1024)
    await writeFile(join(share, 'film.mkv'), data)
    const server = a.ns.spawnNode(fixture, ['--dir', join(dirs, 'a'), '--share', share, ...common])
    running.add(server)
    const key = (await server.waitForLine(/^ready /, { timeoutMs: 60_000 })).split(' ')[1]!
    const downloads = join(dirs, 'downloads')
    // 3 MiB/s: 16 s of transfer, the link goes down after ~3.
    const client = b.ns.spawnNode(fixture, [
      '--dir',
      join(dirs, 'b'),
      '--downloads',
      downloads,
      '--rate',
      String(3 * 1024 * 1024),
      ...common,
    ])
    running.add(client)
    await client.waitForLine(`connect ${key}`, { timeoutMs: 60_000 })
    client.send(`download ${key} share/film.mkv`)
    const id = (await client.waitForLine(/^added /, { timeoutMs: 10_000 })).split(' ')[1]!
    await new Promise((resolve) => setTimeout(resolve, 3000))
    await b.ns.exec('ip', ['link', 'set', 'eth0', 'down'])
    await new Promise((resolve) => setTimeout(resolve, 10_000))
    await b.ns.exec('ip', ['link', 'set', 'eth0', 'up'])
    // A link going down takes its routes with it: the default route comes back as a DHCP client would.
    const gateway = lab.routers.get('B')!.lanAddress
    await b.ns.exec('ip', ['route', 'replace', 'default', 'via', gateway])
    await client.waitForLine(`done ${id}`, { timeoutMs: 120_000 })
    const local = join(downloads, peerName(Buffer.from(key, 'hex')), 'share', 'film.mkv')
    const hash = (buf: Buffer) => createHash('sha256').update(buf).digest('hex')
    expect(hash(await readFile(local))).toBe(hash(data))
    const dropped = client.lines.some((l) => l.startsWith(`disconnect ${key}`))
    console.log(`link down 10 s: the connection ${dropped ? 'dropped and came back' : 'survived'}`)
  }, 240_000)
})
