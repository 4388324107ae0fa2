// Hole-punching success matrix in the NAT lab (root + network namespaces; run under
// `flock /tmp/hdp-bench.lock`). Each pair is punched RUNS times with our NAT-aware choice of
// technique, and, in the same run, with a NAT-blind baseline that treats every peer as easy
// (plain simultaneous punching, what most naive implementations do).
import { randomBytes } from 'node:crypto'
import { join } from 'node:path'
import type { PunchOptions, RemotePeer } from '@harddrive-party/holepunch'
import { type LabHost, NatLab, netnsSupport, skipReason } from '@harddrive-party/test-lab'

const RUNS = Number(process.env.HOLEPUNCH_BENCH_RUNS ?? 20)
const BASELINE_RUNS = Number(process.env.HOLEPUNCH_BENCH_BASELINE_RUNS ?? 5)
const peerScript = join(import.meta.dirname, 'peer.ts')

interface NatLine {
  nat: RemotePeer['nat']
  portAllocation: NonNullable<RemotePeer['portAllocation']>
  publicAddress?: { host: string; port: number }
  localPort: number
}
interface ResultLine {
  ok: boolean
  technique?: string
  code?: string
  elapsedMs: number
  packetsSent: number
}
interface Run {
  ok: boolean
  technique: string
  ms: number
  packets: number
  conntrackX: number
  conntrackY: number
}

const support = netnsSupport()
if (!support.ok) {
  console.log(`holepunch bench: ${skipReason(support)}`)
  process.exit(0)
}

const parse = <T>(line: string): T => JSON.parse(line.slice(line.indexOf(' ') + 1)) as T

function announcement(host: LabHost, nat: NatLine, blind: boolean): RemotePeer {
  const addresses: Array<RemotePeer['addresses'][number]> = [
    { host: host.address, port: nat.localPort, kind: 'lan' },
  ]
  if (nat.publicAddress) {
    const portKnown = blind || nat.nat !== 'hard' || nat.portAllocation === 'sequential'
    addresses.push({
      host: nat.publicAddress.host,
      port: portKnown ? nat.publicAddress.port : 0,
      kind: 'public',
    })
  }
  // The baseline does not look at NAT types: every peer looks easy to it.
  return blind
    ? { nat: nat.nat === 'open' ? 'open' : 'easy', addresses }
    : { nat: nat.nat, portAllocation: nat.portAllocation, addresses }
}

async function runPair(
  lab: NatLab,
  x: LabHost,
  y: LabHost,
  runs: number,
  blind: boolean,
): Promise<Run[]> {
  const stun = lab.stunServers.map((s) => `${s.host}:${s.port}`).join(',')
  const px = x.ns.spawnNode(peerScript, [stun])
  const py = y.ns.spawnNode(peerScript, [stun])
  const out: Run[] = []
  try {
    await Promise.all([px.waitForLine(/^ready/), py.waitForLine(/^ready/)])
    const routers = [x.nat?.name, y.nat?.name].filter((r): r is string => r !== undefined)
    for (const r of routers) await lab.flushConntrack(r)
    for (let i = 0; i < runs; i++) {
      const secret = randomBytes(32).toString('hex')
      const options: PunchOptions = blind ? { timeoutMs: 3000 } : {}
      const mark = [px.lines.length, py.lines.length] as const
      px.send(`round ${JSON.stringify({ secret, options, name: 'x', peerName: 'y', blind })}`)
      py.send(`round ${JSON.stringify({ secret, options, name: 'y', peerName: 'x', blind })}`)
      const natX = parse<NatLine>(await px.waitForLine(/^nat /, { after: mark[0] }))
      const natY = parse<NatLine>(await py.waitForLine(/^nat /, { after: mark[1] }))
      px.send(`peer ${JSON.stringify(announcement(y, natY, blind))}`)
      py.send(`peer ${JSON.stringify(announcement(x, natX, blind))}`)
      const rx = parse<ResultLine>(
        await px.waitForLine(/^result /, { after: mark[0], timeoutMs: 60_000 }),
      )
      const ry = parse<ResultLine>(
        await py.waitForLine(/^result /, { after: mark[1], timeoutMs: 60_000 }),
      )
      px.send('next')
      py.send('next')
      await Promise.all([
        px.waitForLine(/^closed/, { after: mark[0] }),
        py.waitForLine(/^closed/, { after: mark[1] }),
      ])
      const count = async (h: LabHost): Promise<number> =>
        h.nat ? lab.conntrackEntries(h.nat.name) : 0
      const [cx, cy] = [await count(x), await count(y)]
      for (const r of routers) await lab.flushConntrack(r)
      out.push({
        ok: rx.ok && ry.ok,
        technique: rx.technique ?? ry.technique ?? rx.code ?? '?',
        ms: Math.max(rx.elapsedMs, ry.elapsedMs),
        packets: rx.packetsSent + ry.packetsSent,
        conntrackX: cx,
        conntrackY: cy,
      })
      process.stderr.write(blind ? '·' : '.')
    }
  } finally {
    px.send('exit')
    py.send('exit')
    await Promise.all([px.stop(3000), py.stop(3000)])
  }
  return out
}

function quantile(values: number[], q: number): number {
  if (values.length === 0) return Number.NaN
  const sorted = [...values].sort((a, b) => a - b)
  return sorted[Math.min(sorted.length - 1, Math.ceil(q * sorted.length) - 1)]!
}

const fmtMs = (n: number): string =>
  Number.isNaN(n) ? '-' : n >= 1000 ? `${(n / 1000).toFixed(2)} s` : `${Math.round(n)} ms`

function row(label: string, mode: string, runs: Run[]): string[] {
  const ok = runs.filter((r) => r.ok)
  const ms = ok.map((r) => r.ms)
  const techniques = [...new Set(runs.map((r) => r.technique))].join('/')
  return [
    label,
    mode,
    techniques,
    `${ok.length}/${runs.length}`,
    fmtMs(quantile(ms, 0.5)),
    fmtMs(quantile(ms, 0.95)),
    fmtMs(ms.length ? Math.max(...ms) : Number.NaN),
    String(
      quantile(
        runs.map((r) => r.packets),
        0.5,
      ),
    ),
    String(Math.max(...runs.map((r) => r.packets))),
    `${quantile(
      runs.map((r) => r.conntrackX),
      0.5,
    )} / ${quantile(
      runs.map((r) => r.conntrackY),
      0.5,
    )}`,
    `${Math.max(...runs.map((r) => r.conntrackX))} / ${Math.max(...runs.map((r) => r.conntrackY))}`,
  ]
}

function table(rows: string[][]): string {
  const head = [
    'pair (x<->y)',
    'mode',
    'technique',
    'ok',
    'median',
    'p95',
    'max',
    'pkts med',
    'pkts max',
    'conntrack x/y med',
    'x/y max',
  ]
  const all = [head, ...rows]
  const widths = head.map((_, i) => Math.max(...all.map((r) => r[i]!.length)))
  const line = (r: string[]): string => r.map((c, i) => c.padEnd(widths[i]!)).join('  ')
  return [line(head), widths.map((w) => '-'.repeat(w)).join('  '), ...rows.map(line)].join('\n')
}

const lab = await NatLab.create({ nats: { A: 'easy', B: 'hard', C: 'easy', D: 'hard' } })
try {
  const h = {
    a: await lab.addHost('a', 'A'),
    a2: await lab.addHost('a2', 'A'),
    b: await lab.addHost('b', 'B'),
    c: await lab.addHost('c', 'C'),
    d: await lab.addHost('d', 'D'),
    o: await lab.addHost('o'),
  }
  const pairs: Array<[string, LabHost, LabHost]> = [
    ['open<->easy', h.o, h.a],
    ['easy<->easy', h.a, h.c],
    ['easy<->hard', h.a, h.b],
    ['hard<->easy', h.b, h.c],
    ['hard<->hard', h.b, h.d],
    ['same NAT (easy)', h.a, h.a2],
  ]
  const rows: string[][] = []
  const started = performance.now()
  for (const [label, x, y] of pairs) {
    process.stderr.write(`${label} `)
    rows.push(row(label, 'ours', await runPair(lab, x, y, RUNS, false)))
    if (BASELINE_RUNS > 0)
      rows.push(row(label, 'NAT-blind', await runPair(lab, x, y, BASELINE_RUNS, true)))
    process.stderr.write('\n')
  }
  console.log(
    `\nholepunch: punch matrix in the NAT lab (${RUNS} runs per pair, ${BASELINE_RUNS} for the NAT-blind baseline; ` +
      'easy = MASQUERADE, hard = MASQUERADE --random-fully, unsolicited inbound dropped)',
  )
  console.log(
    'time = until both sides completed a two-way exchange; packets = both sides; conntrack = UDP entries left on each NAT after the run\n',
  )
  console.log(table(rows))
  console.log(
    `\ngoals: easy<->easy 20/20 under 1 s; easy<->hard 20/20, median < 3 s, max < 10 s. (${((performance.now() - started) / 1000).toFixed(0)} s)`,
  )
} finally {
  await lab.destroy()
}
