import { createHash, randomBytes } from 'node:crypto'
import { mkdir, readFile, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { peerName } from '@harddrive-party/peer-node'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { type PeerLab, peerLabSkipReason, startPeerLab } from './peer-lab'

// A download across real NATs (test-lab) whose link goes down for 10 s mid-transfer.
const skip = peerLabSkipReason('downloads NAT lab')
const fixture = join(import.meta.dirname, 'fixtures/download-peer.ts')

describe.skipIf(skip !== '')('a download across NATs', () => {
  let peerLab: PeerLab

  beforeAll(async () => {
    peerLab = await startPeerLab({
      nats: { A: 'easy', B: 'easy' },
      hosts: { a: 'A', b: 'B' },
      prefix: 'hdp-downloads-lab-',
    })
  }, 60_000)

  afterAll(() => peerLab?.stop())

  it('resumes by itself after `ip link set down` for 10 s mid-transfer: byte-exact', async () => {
    const { lab, dir: dirs } = peerLab
    const [a, b] = [peerLab.hosts.a!, peerLab.hosts.b!]
    const topic = 'lab downloads'
    const share = join(dirs, 'share')
    await mkdir(share)
    const data = randomBytes(48 * 1024 * 1024)
    await writeFile(join(share, 'film.mkv'), data)
    const server = peerLab.start(a, { fixture, dir: join(dirs, 'a'), topic, share })
    const key = (await server.waitForLine(/^ready /, { timeoutMs: 60_000 })).split(' ')[1]!
    const downloads = join(dirs, 'downloads')
    // 3 MiB/s: 16 s of transfer, the link goes down after ~3.
    const client = peerLab.start(b, {
      fixture,
      dir: join(dirs, 'b'),
      topic,
      extra: ['--downloads', downloads, '--rate', String(3 * 1024 * 1024)],
    })
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
