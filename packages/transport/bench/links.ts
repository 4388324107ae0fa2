// Transfers over emulated links (issue 12): two network namespaces joined by test-lab's
// userspace link emulator (rate, one-way delay, random loss per direction). For each link,
// each mode downloads for the link's seconds in its own pair of processes, same run:
// plain TCP, the transport's TCP carrier, bare secret-stream on UDX (no mux), and the
// transport's UDX carrier; `ls` requests time the latency during the transfer, and the client
// namespace's UDP RcvbufErrors count drops in our own receive buffer. Beside the whole
// transfer's rate, each row has the rate over its second half and when a quarter second first
// carried 80 % of the link: the fill after the congestion controller's ramp, and the ramp. The
// counters lines say what the emulator and both ends cost in CPU, and how late the emulator
// sent packets against their due time: a part near a whole core measures the machine.
// Transfers last 6 s on the 1 Gbit link and 20 s on the long links, where libudx's congestion
// controller takes 1.5-2.5 s to ramp up (docs/transport.md §7.1.4): a film takes minutes on such a
// link, so a 6 s transfer would measure mostly the ramp, which the ms-to-80 % column shows apart.
// BENCH_SECONDS sets one length for every link.
// Needs root and gcc (skips with the reason otherwise). Env: BENCH_LINKS (indexes, e.g. 1,2),
// BENCH_MODES (default plain,tcp,raw-udx,udx; a mode may carry environment settings for A/B
// runs of one switch in the same run: `udx+NAME=value`, e.g. `udx+BENCH_IDLE_LS=0` skips the
// client's 50 idle `ls` before the transfer, `udx+BENCH_BULK=0` opens the transfer on the connection
// instead of its bulk lane, `raw-udx+BENCH_TRACE=file` traces libudx's sender, `udx+...` the bulk stream's).
import {
  type EmulatorReport,
  type LinkCounters,
  type LinkDirection,
  LinkLab,
  linkLabSupport,
  udpCounters,
} from '@harddrive-party/test-lab'
import { modeLabel, parseMode } from './bench-mode'

const SECONDS_OVERRIDE =
  process.env.BENCH_SECONDS === undefined ? undefined : Number(process.env.BENCH_SECONDS)
const MODES = (process.env.BENCH_MODES ?? 'plain,tcp,raw-udx,udx').split(',')
const LINKS: Array<{ name: string; shape: LinkDirection; seconds: number }> = [
  {
    name: '1 Gbit/s, 0.5 ms RTT',
    shape: { rateBitsPerSecond: 1e9, delayMs: 0.25, loss: 0 },
    seconds: 6,
  },
  {
    name: '200 Mbit/s, 40 ms RTT',
    shape: { rateBitsPerSecond: 200e6, delayMs: 20, loss: 0 },
    seconds: 20,
  },
  {
    name: '200 Mbit/s, 40 ms, 0.5 % loss',
    shape: { rateBitsPerSecond: 200e6, delayMs: 20, loss: 0.005 },
    seconds: 20,
  },
  {
    name: '50 Mbit/s, 80 ms, 1 % loss',
    shape: { rateBitsPerSecond: 50e6, delayMs: 40, loss: 0.01 },
    seconds: 20,
  },
]
const linkRate = (name: string) =>
  LINKS.find((l) => l.name === name)?.shape.rateBitsPerSecond ?? Number.NaN
const chosen = process.env.BENCH_LINKS?.split(',').map(Number) ?? LINKS.map((_, i) => i)
const f = (n: number, d = 1) => (Number.isFinite(n) ? n.toFixed(d) : '-')
const here = (file: string) => new URL(file, import.meta.url).pathname

const support = linkLabSupport()
if (!support.ok) {
  console.log(`links bench skipped: ${support.reason}`)
  process.exit(0)
}

interface Row {
  link: string
  mode: string
  /** How long the transfer ran. */
  seconds: number
  mbits: number
  percentOfLink: number
  /** The rate over the second half of the transfer: the fill after the ramp. */
  lateMbits: number
  /** When a quarter second first carried 80 % of the link (ms after the request; NaN: never). */
  rampMs: number
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
    const seconds = SECONDS_OVERRIDE ?? link.seconds
    const rttProbe = await runMode('rtt', seconds)
    rtts.push(
      `${link.name}: TCP connect RTT p50 ${rttProbe.lsIdle.p50.toFixed(2)} ms (set ${(2 * link.shape.delayMs).toFixed(1)} ms)`,
    )
    for (const mode of MODES) {
      // A fresh emulator per mode, so its tail drops are this mode's.
      await lab.reshape(link.shape)
      const before = (await udpCounters(lab.a)).RcvbufErrors ?? 0
      const r = await runMode(mode, seconds)
      const after = (await udpCounters(lab.a)).RcvbufErrors ?? 0
      const end = await lab.stopEmulator()
      if (end !== undefined) tallyCounters(`${link.name} ${mode}`, end, r)
      const mbits = (r.received * 8) / r.seconds / 1e6
      const lateMbits = secondHalfMbits(r.progress)
      const rampMs = msToFill(r.progress, link.shape.rateBitsPerSecond * 0.8)
      rows.push({
        link: link.name,
        mode,
        seconds,
        mbits,
        percentOfLink: (mbits * 1e6 * 100) / link.shape.rateBitsPerSecond,
        lateMbits,
        rampMs,
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

function msToFill(samples: Array<[number, number]>, bitsPerSecond: number): number {
  for (let i = 1; i < samples.length; i++) {
    const [t0, b0] = samples[i - 1]!
    const [t1, b1] = samples[i]!
    if (((b1 - b0) * 8 * 1000) / (t1 - t0) >= bitsPerSecond) return t1
  }
  return Number.NaN
}

function secondHalfMbits(samples: Array<[number, number]>): number {
  const last = samples.at(-1)
  const mid = samples.find(([ms]) => last !== undefined && ms >= last[0] / 2)
  if (last === undefined || mid === undefined || last[0] === mid[0]) return Number.NaN
  return ((last[1] - mid[1]) * 8) / (last[0] - mid[0]) / 1000
}

/**
 * The emulator's counters, and what each part cost: if the emulator or an end ran near a whole
 * core, the figure measures this machine, not the transport on the link.
 */
function tallyCounters(link: string, c: EmulatorReport, r: ModeResult): void {
  const wall = c.cost.wallMs / 1000
  const d = (x: LinkCounters) =>
    `${x.forwarded} packets (${f(x.forwarded / wall / 1000)} k/s), ${x.lost} lost at random, ${x.tailDropped} tail-dropped, ${x.tooBig} too big, late ${x.lateMicrosMean} µs mean / ${x.lateOver1ms} over 1 ms`
  const cpu = `emulator CPU ${f((100 * c.cost.cpuMs) / c.cost.wallMs, 0)} % (${f(c.cost.wakeups / wall / 1000)} k wake-ups/s), receiver ${f(r.cpuPercent, 0)} %, sender ${f(r.senderCpuPercent, 0)} %`
  counters.push(`${link}: a->b ${d(c.aToB)}; b->a ${d(c.bToA)}; ${cpu}`)
}

interface ModeResult {
  received: number
  seconds: number
  cpuPercent: number
  senderCpuPercent: number
  lsIdle: { n: number; p50: number; p99: number }
  lsBusy: { n: number; p50: number; p99: number }
  slowest?: Array<[number, number]>
  progress: Array<[number, number]>
  stats?: Row['stats']
}

async function runMode(modeWithEnv: string, seconds: number): Promise<ModeResult> {
  const { mode, settings } = parseMode(modeWithEnv)
  const env: Record<string, string | undefined> = {
    ...process.env,
    ...settings,
    BENCH_HOST: lab.bAddress,
    BENCH_SECONDS: String(seconds),
  }
  const server = lab.b.spawnNode(here('./bench-server.ts'), [], {
    env: { ...env, BENCH_HOST: '0.0.0.0' },
  })
  try {
    const ready = await server.waitForLine(/^ready /, { timeoutMs: 60_000 })
    const [port, key, plainPort, rawPort] = ready.slice(6).split(' ')
    const client = lab.a.spawnNode(
      here('./bench-client.ts'),
      [mode, port!, key!, plainPort!, String(1e12), rawPort!],
      { env },
    )
    server.send('stats')
    const before = JSON.parse((await server.waitForLine(/^stats /)).slice(6))
    const line = await client.waitForLine(/^result /, { timeoutMs: (seconds + 60) * 1000 })
    const statsSeen = server.lines.length
    server.send('stats')
    const after = JSON.parse((await server.waitForLine(/^stats /, { after: statsSeen })).slice(6))
    await client.stop(5000)
    const result = JSON.parse(line.slice(7))
    // The server's CPU over the transfer (its start-up and idle ls phase included: a little high).
    const senderCpuPercent =
      result.seconds > 0
        ? (after.cpuTotalMs - before.cpuTotalMs) / (10 * result.seconds)
        : Number.NaN
    return { ...result, senderCpuPercent } as ModeResult
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
const table: string[][] = rows.map((r) => {
  const same = rows.filter((o) => o.link === r.link)
  const plain = same.find((o) => o.mode === 'plain')?.mbits ?? Number.NaN
  const bare = same.find((o) => o.mode === 'raw-udx')?.mbits ?? Number.NaN
  return [
    r.link,
    modeLabel(r.mode, LABELS),
    String(r.seconds),
    f(r.mbits),
    `${f(r.percentOfLink, 0)} %`,
    `${f(r.lateMbits)} (${f((r.lateMbits * 1e8) / linkRate(r.link), 0)} %)`,
    f(r.rampMs, 0),
    f(r.mbits / plain, 2),
    f(r.mbits / bare, 2),
    r.lsBusy.n === 0 ? '-' : `${f(r.lsBusy.p50, 0)} / ${f(r.lsBusy.p99, 0)} (n=${r.lsBusy.n})`,
    String(r.rcvbufErrors),
    String(r.tailDrops),
  ]
})
const header = [
  'link',
  'mode',
  's',
  'Mbit/s',
  '% of link',
  'Mbit/s 2nd half',
  'ms to 80 %',
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
