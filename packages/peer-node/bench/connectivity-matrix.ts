// Connection matrix in the NAT lab (root only): every pair of {open, easy, hard, hard+mapping,
// IPv6, hard+TURN} with itself and the others, N fresh starts each (new keys, so either side may dial),
// time from both nodes ready to both connected, and the technique the dialer used.
//   node --import tsx --conditions=@harddrive-party/source bench/connectivity-matrix.ts [N]
// Prints a markdown table for docs/connectivity.md.
import { mkdtemp, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import type { PeerInfo } from '@harddrive-party/peer-node'
import {
  type LabHost,
  type LabProcess,
  type Miniupnpd,
  NatLab,
  netnsSupport,
  startMiniupnpd,
  startStunServer,
} from '@harddrive-party/test-lab'

const N = Number(process.argv[2] ?? 3)
const TIMEOUT_MS = 30_000
/** Optional `a:b,c:d`: only these pairs. */
const ONLY = process.argv[3]?.split(',')
const support = netnsSupport()
if (!support.ok) throw new Error(support.reason)
const fixture = join(import.meta.dirname, '../test/fixtures/peer.ts')

type Kind = 'open' | 'easy' | 'hard' | 'hard+mapping' | 'ipv6' | 'hard+turn'
const KINDS: Kind[] = ['open', 'easy', 'hard', 'hard+mapping', 'ipv6', 'hard+turn']
/** A coturn with TURN on the public net; `hard+turn` hosts are configured with it. */
const TURN = 'turn://hdp:bench@198.51.100.1:3480'

const lab = await NatLab.create({
  // Two of each, so a pair of the same kind sits behind two different routers. The IPv6 hosts
  // sit behind hard IPv4 NATs: only IPv6 connects them.
  nats: {
    E1: 'easy',
    E2: 'easy',
    H1: 'hard',
    H2: 'hard',
    M1: 'hard',
    M2: 'hard',
    V1: 'hard',
    V2: 'hard',
    T1: 'hard',
    T2: 'hard',
  },
  ipv6: true,
})
const upnp: Miniupnpd[] = []
const stops: Array<() => Promise<void>> = []
const dirs = await mkdtemp(join(tmpdir(), 'hdp-matrix-'))
let broker: LabProcess | undefined
try {
  const hosts: Record<Kind, LabHost[]> = {
    open: [await lab.addHost('o1'), await lab.addHost('o2')],
    easy: [await lab.addHost('e1', 'E1'), await lab.addHost('e2', 'E2')],
    hard: [await lab.addHost('h1', 'H1'), await lab.addHost('h2', 'H2')],
    'hard+mapping': [await lab.addHost('m1', 'M1'), await lab.addHost('m2', 'M2')],
    ipv6: [await lab.addHost('v1', 'V1'), await lab.addHost('v2', 'V2')],
    'hard+turn': [await lab.addHost('t1', 'T1'), await lab.addHost('t2', 'T2')],
  }
  const turn = await startStunServer({
    ns: lab.pub,
    addresses: ['198.51.100.1'],
    port: 3480,
    dir: lab.lab.dir,
    turn: { username: 'hdp', password: 'bench', realm: 'lab.example' },
  })
  stops.push(() => turn.stop())
  const [stun, other] = lab.stunServers
  for (const r of ['M1', 'M2']) {
    const u = await startMiniupnpd(lab.router(r), {
      stun: { host: stun!.host, port: stun!.port, otherHost: other!.host },
      dir: lab.lab.dir,
    })
    upnp.push(u)
  }
  for (let i = 0; i < 100 && upnp.some((u) => !u.process.stderr.includes('now enabled')); i++)
    await new Promise((resolve) => setTimeout(resolve, 100))
  const conf = join(lab.lab.dir, 'mosquitto.conf')
  await writeFile(conf, 'listener 1883 198.51.100.1\nallow_anonymous true\npersistence false\n')
  broker = lab.pub.spawn('mosquitto', ['-c', conf])

  const start = (kind: Kind, host: LabHost, topic: string, dir: string) =>
    host.ns.spawnNode(fixture, [
      ...['--dir', dir, '--broker', 'mqtt://198.51.100.1:1883', '--topic', topic],
      ...['--stun', lab.stunServers.map((s) => `${s.host}:${s.port}`).join(',')],
      ...['--host', kind === 'ipv6' ? '::' : '0.0.0.0'],
      ...(kind === 'hard+mapping' ? ['--port-mapping', 'nat-pmp'] : []),
      ...(kind === 'hard+turn' ? ['--turn', TURN] : []),
    ])

  const rows: string[] = []
  let run = 0
  for (let i = 0; i < KINDS.length; i++) {
    for (let j = i; j < KINDS.length; j++) {
      const [a, b] = [KINDS[i]!, KINDS[j]!]
      if (ONLY && !ONLY.includes(`${a}:${b}`)) continue
      const times: number[] = []
      const techniques = new Map<string, number>()
      for (let n = 0; n < N; n++) {
        const topic = `m${run++}`
        const pa = start(a, hosts[a][0]!, topic, join(dirs, `${topic}-a`))
        const pb = start(b, hosts[b][1]!, topic, join(dirs, `${topic}-b`))
        try {
          const ka = (await pa.waitForLine(/^ready /, { timeoutMs: 120_000 })).split(' ')[1]
          const kb = (await pb.waitForLine(/^ready /, { timeoutMs: 120_000 })).split(' ')[1]
          const readyAt = Date.now()
          await pa.waitForLine(`connect ${kb}`, { timeoutMs: TIMEOUT_MS })
          await pb.waitForLine(`connect ${ka}`, { timeoutMs: TIMEOUT_MS })
          times.push(Date.now() - readyAt)
          const infos = await Promise.all([pa, pb].map(peersOf))
          const dialer = infos.flat().find((p) => p.connection?.initiator)
          const used = dialer?.attempt?.used ?? '?'
          techniques.set(used, (techniques.get(used) ?? 0) + 1)
        } catch (err) {
          techniques.set('failed', (techniques.get('failed') ?? 0) + 1)
          console.error(`${a}:${b} #${n}: ${String(err).split('\n')[0]}`)
          for (const p of [pa, pb]) console.error(`  ${p.lines.slice(-3).join(' | ')}`)
        } finally {
          await Promise.allSettled([pa.stop(3000), pb.stop(3000)])
        }
      }
      const sorted = [...times].sort((x, y) => x - y)
      const median = sorted.length ? sorted[Math.floor((sorted.length - 1) / 2)] : undefined
      const max = sorted.at(-1)
      const used = [...techniques].map(([t, c]) => `${t} ×${c}`).join(', ')
      const row = `| ${a} | ${b} | ${times.length}/${N} | ${median ?? '-'} | ${max ?? '-'} | ${used} |`
      console.log(row)
      rows.push(row)
    }
  }
  console.log('\n| A | B | connected | median ms | max ms | technique (dialer) |')
  console.log('|---|---|---|---|---|---|')
  for (const r of rows) console.log(r)
} finally {
  await broker?.stop(1000)
  for (const u of upnp) await u.stop()
  for (const stop of stops) await stop()
  await lab.destroy()
  await rm(dirs, { recursive: true, force: true })
}

async function peersOf(proc: LabProcess): Promise<PeerInfo[]> {
  const from = proc.lines.length
  proc.send('peers')
  const line = await proc.waitForLine(/^peers /, { after: from, timeoutMs: 5000 })
  return JSON.parse(line.slice('peers '.length)) as PeerInfo[]
}
