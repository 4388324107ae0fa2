// Transfers over emulated links (issue 12): two network namespaces joined by test-lab's
// userspace link emulator (rate, one-way delay, random loss per direction). For each link,
// each mode downloads for BENCH_SECONDS (default 6) in its own pair of processes, same run:
// plain TCP, the transport's TCP carrier, bare secret-stream on UDX (no mux), and the
// transport's UDX carrier; `ls` requests time the latency during the transfer, and the client
// namespace's UDP RcvbufErrors count drops in our own receive buffer.
// Needs root and gcc (skips with the reason otherwise). Env: BENCH_LINKS (indexes, e.g. 1,2),
// BENCH_MODES (default plain,tcp,raw-udx,udx; a mode may carry environment settings for A/B
// runs of one switch in the same run: `udx+NAME=value`).
import { type LinkDirection, LinkLab, linkLabSupport, udpCounters } from '@harddrive-party/test-lab'

const SECONDS = Number(process.env.BENCH_SECONDS ?? 6)
const MODES = (process.env.BENCH_MODES ?? 'plain,tcp,raw-udx,udx').split(',')
const LINKS: Array<{ name: string; shape: LinkDirection }> = [
  { name: '1 Gbit/s, 0.5 ms RTT', shape: { rateBitsPerSecond: 1e9, delayMs: 0.25, loss: 0 } },
  { name: '200 Mbit/s, 40 ms RTT', shape: { rateBitsPerSecond: 200e6, delayMs: 20, loss: 0 } },
  {
    name: '200 Mbit/s, 40 ms, 0.5 % loss',
    shape: { rateBitsPerSecond: 200e6, delayMs: 20, loss: 0.005 },
  },
  {
    name: '50 Mbit/s, 80 ms, 1 % loss',
    shape: { rateBitsPerSecond: 50e6, delayMs: 40, loss: 0.01 },
  },
]
const chosen = process.env.BENCH_LINKS?.split(',').map(Number) ?? LINKS.map((_, i) => i)
const here = (file: string) => new URL(file, import.meta.url).pathname

const support = linkLabSupport()
if (!support.ok) {
  console.log(`links bench skipped: ${support.reason}`)
  process.exit(0)
}

interface Row {
  link: string
  mode: string
  mbits: number
  percentOfLink: number
  lsBusy: { n: number; p50: number; p99: number }
  rcvbufErrors: number
  tailDrops: number
  stats: { rttMs?: number; udx?: { retransmits: number; rttMs: number } } | undefined
}

const lab = await LinkLab.create(LINKS[0]!.shape)
const rows: Row[] = []
const rtts: string[] = []
const counters: string[] = []
try {
  for (const index of chosen) {
    const link = LINKS[index]!
    await lab.reshape(link.shape)
    const rttProbe = await runMode('rtt')
    rtts.push(
      `${link.name}: TCP connect RTT p50 ${rttProbe.lsIdle.p50.toFixed(2)} ms (set ${(2 * link.shape.delayMs).toFixed(1)} ms)`,
    )
    for (const mode of MODES) {
      // A fresh emulator per mode, so its tail drops are this mode's.
      await lab.reshape(link.shape)
      const before = (await udpCounters(lab.a)).RcvbufErrors ?? 0
      const r = await runMode(mode)
      const after = (await udpCounters(lab.a)).RcvbufErrors ?? 0
      const end = await lab.stopEmulator()
      if (end !== undefined) tallyCounters(`${link.name} ${mode}`, end)
      const mbits = (r.received * 8) / r.seconds / 1e6
      rows.push({
        link: link.name,
        mode,
        mbits,
        percentOfLink: (mbits * 1e6 * 100) / link.shape.rateBitsPerSecond,
        lsBusy: r.lsBusy,
        rcvbufErrors: after - before,
        tailDrops: (end?.aToB.tailDropped ?? 0) + (end?.bToA.tailDropped ?? 0),
        stats: r.stats,
      })
      const rtt =
        r.stats === undefined
          ? ''
          : `, ping RTT ${r.stats.rttMs?.toFixed(0)} ms, UDX RTT ${r.stats.udx?.rttMs ?? '-'} ms`
      const slowest =
        r.slowest === undefined
          ? ''
          : `, slowest ls [ms after start, ms]: ${JSON.stringify(r.slowest)}`
      console.error(`${link.name} ${mode}: ${mbits.toFixed(1)} Mbit/s${rtt}${slowest}`)
    }
  }
} finally {
  await lab.destroy()
}

type Counters = NonNullable<Awaited<ReturnType<LinkLab['stopEmulator']>>>
function tallyCounters(link: string, c: Counters): void {
  const d = (x: Counters['aToB']) =>
    `${x.forwarded} packets, ${x.lost} lost at random, ${x.tailDropped} tail-dropped, ${x.tooBig} too big`
  counters.push(`${link}: a->b ${d(c.aToB)}; b->a ${d(c.bToA)}`)
}

async function runMode(modeWithEnv: string) {
  const [mode, ...settings] = modeWithEnv.split('+')
  const env: Record<string, string | undefined> = {
    ...process.env,
    ...Object.fromEntries(settings.map((kv) => kv.split('=', 2))),
    BENCH_HOST: lab.bAddress,
    BENCH_SECONDS: String(SECONDS),
  }
  const server = lab.b.spawnNode(here('./bench-server.ts'), [], {
    env: { ...env, BENCH_HOST: '0.0.0.0' },
  })
  try {
    const ready = await server.waitForLine(/^ready /, { timeoutMs: 60_000 })
    const [port, key, plainPort, rawPort] = ready.slice(6).split(' ')
    const client = lab.a.spawnNode(
      here('./bench-client.ts'),
      [mode!, port!, key!, plainPort!, String(1e12), rawPort!],
      { env },
    )
    const line = await client.waitForLine(/^result /, { timeoutMs: (SECONDS + 60) * 1000 })
    await client.stop(5000)
    return JSON.parse(line.slice(7))
  } finally {
    await server.stop(3000)
  }
}

const LABELS: Record<string, string> = {
  plain: 'plain TCP',
  tcp: 'TCP carrier',
  'raw-udx': 'bare secret-stream on UDX',
  udx: 'UDX carrier',
}
const f = (n: number, d = 1) => (Number.isFinite(n) ? n.toFixed(d) : '-')
const table: string[][] = rows.map((r) => {
  const same = rows.filter((o) => o.link === r.link)
  const plain = same.find((o) => o.mode === 'plain')?.mbits ?? Number.NaN
  const bare = same.find((o) => o.mode === 'raw-udx')?.mbits ?? Number.NaN
  const [mode, ...settings] = r.mode.split('+')
  return [
    r.link,
    [LABELS[mode!] ?? mode, ...settings].join(' '),
    f(r.mbits),
    `${f(r.percentOfLink, 0)} %`,
    f(r.mbits / plain, 2),
    f(r.mbits / bare, 2),
    r.lsBusy.n === 0 ? '-' : `${f(r.lsBusy.p50, 0)} / ${f(r.lsBusy.p99, 0)} (n=${r.lsBusy.n})`,
    String(r.rcvbufErrors),
    String(r.tailDrops),
  ]
})
const header = [
  'link',
  `mode (${SECONDS} s each)`,
  'Mbit/s',
  '% of link',
  'x plain TCP',
  'x bare UDX',
  'ls ms during transfer p50 / p99',
  'UDP RcvbufErrors (client)',
  'emulator tail drops',
]
const widths = header.map((h, i) => Math.max(h.length, ...table.map((r) => r[i]!.length)))
const line = (cells: string[]) => `| ${cells.map((c, i) => c.padEnd(widths[i]!)).join(' | ')} |`
console.log(rtts.join('\n'))
console.log(counters.join('\n'))
console.log(line(header))
console.log(line(widths.map((w) => '-'.repeat(w))))
for (const r of table) console.log(line(r))
console.log(
  'Goals: UDX carrier >= 85 % of the link at 200 Mbit/s / 40 ms, >= 65 % with 0.5 % loss, >= 80 % at 50 Mbit/s / 80 ms / 1 % loss; ls p99 < RTT + 100 ms on the lossless link.',
)
