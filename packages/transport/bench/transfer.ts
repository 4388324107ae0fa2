// Bulk transfer benchmark: 1 GiB over one connection with the UDX carrier, the TCP carrier and
// plain TCP (node:net, no encryption) in the same run, each side in its own process; plus the
// latency of small `ls`-like requests on the same connection during the transfer.
// Run: flock /tmp/hdp-bench.lock pnpm --filter @harddrive-party/transport bench
// Env: BENCH_BYTES (default 1 GiB), BENCH_RUNS (default 1), BENCH_CPU_PROF=<dir>: both sides
// write a V8 CPU profile per mode to <dir>/<mode>-<run> (summarise them with peer-node's
// bench/cpu-profile-top.ts).
// Every mode runs twice: with node's defaults, and with a smaller V8 young generation
// (--max-semi-space-size=4), which an application can set for itself: secret-stream allocates
// a fresh buffer per message, and with the default 16 MiB semi-space those buffers are mostly
// reclaimed by full mark-compact collections instead of cheap scavenges.
import { spawn } from 'node:child_process'
import { once } from 'node:events'
import { createInterface } from 'node:readline'
import { fileURLToPath } from 'node:url'
import { modeLabel, parseMode } from './bench-mode'

const BYTES = Number(process.env.BENCH_BYTES ?? 2 ** 30)
const RUNS = Number(process.env.BENCH_RUNS ?? 1)
const here = (file: string) => fileURLToPath(new URL(file, import.meta.url))
const nodeArgs = ['--import', 'tsx', '--conditions=@harddrive-party/source']
const FLAG_SETS = [[], ['--max-semi-space-size=4']].slice(
  0,
  Number(process.env.BENCH_FLAG_SETS ?? 2),
)
// plain first: the ratio column divides by it.
const MODES = (process.env.BENCH_MODES ?? 'plain,tcp,raw-udx,udx').split(',')
const PROFILE = process.env.BENCH_CPU_PROF
let runNumber = 0

function start(file: string, args: string[] = [], flags: string[] = [], env = process.env) {
  const child = spawn(process.execPath, [...flags, ...nodeArgs, here(file), ...args], {
    stdio: ['pipe', 'pipe', 'inherit'],
    env,
  })
  const lines = createInterface({ input: child.stdout! })
  const next = (prefix: string) =>
    new Promise<string>((resolve, reject) => {
      const onLine = (line: string) => {
        if (!line.startsWith(prefix)) return
        lines.off('line', onLine)
        resolve(line.slice(prefix.length).trim())
      }
      lines.on('line', onLine)
      child.once('exit', (code) => reject(new Error(`${file} exited (${code}) before "${prefix}"`)))
    })
  return { child, next }
}

interface Result {
  mode: string
  mbPerSecond: number
  cpuPercent: number
  maxRssKiB: number
  server: { cpuPercent: number; maxRssKiB: number }
  lsIdle: { n: number; p50: number; p99: number }
  lsBusy: { n: number; p50: number; p99: number; max: number }
  received: number
}

async function runMode(modeWithEnv: string, flags: string[]): Promise<Result> {
  const { mode, settings } = parseMode(modeWithEnv)
  const env = { ...process.env, ...settings }
  runNumber++
  if (PROFILE !== undefined) {
    const dir = `${PROFILE}/${modeWithEnv.replace(/[^\w=.-]+/g, '_')}-${runNumber}`
    flags = [...flags, '--cpu-prof', `--cpu-prof-dir=${dir}`]
  }
  const server = start('./bench-server.ts', [], flags, env)
  const [port, key, plainPort, rawPort] = (await server.next('ready')).split(' ')
  const client = start(
    './bench-client.ts',
    [mode, port!, key!, plainPort!, String(BYTES), rawPort!],
    flags,
    env,
  )
  const result = JSON.parse(await client.next('result'))
  await once(client.child, 'exit')
  server.child.stdin!.write('stats\n')
  const stats = JSON.parse(await server.next('stats'))
  server.child.stdin!.end()
  // A server that does not stop by itself is a bug to see, not to wait for forever.
  const killer = setTimeout(() => {
    console.error(`bench server for ${mode} did not exit; killing pid ${server.child.pid}`)
    server.child.kill('SIGKILL')
  }, 15_000)
  await once(server.child, 'exit')
  clearTimeout(killer)
  if (result.received !== BYTES) throw new Error(`${mode}: received ${result.received} of ${BYTES}`)
  return { ...result, mode: modeWithEnv, server: stats }
}

const LABELS: Record<string, string> = {
  plain: 'plain TCP (node:net)',
  tcp: 'transport, tcp carrier',
  'raw-udx': 'secret-stream on UDX, no mux',
  udx: 'transport, udx carrier',
}
/** CPU time per GiB from a CPU share over the transfer and its rate. */
const cpuSecondsPerGiB = (cpuPercent: number, mbPerSecond: number) =>
  ((cpuPercent / 100) * 2 ** 30) / (mbPerSecond * 1e6)
const f = (n: number, d = 1) => (Number.isFinite(n) ? n.toFixed(d) : '-')
const rows: string[][] = []
for (let run = 1; run <= RUNS; run++) {
  for (const flags of FLAG_SETS) {
    const results: Result[] = []
    for (const mode of MODES) results.push(await runMode(mode, flags))
    const plain = results.find((r) => r.mode === 'plain')?.mbPerSecond ?? Number.NaN
    const node = flags.length === 0 ? 'node defaults' : flags.join(' ')
    for (const r of results) {
      rows.push([
        String(run),
        `${modeLabel(r.mode, LABELS)} [${node}]`,
        f(r.mbPerSecond),
        f(r.mbPerSecond / plain, 2),
        `${f(r.cpuPercent, 0)} / ${f(r.server.cpuPercent, 0)}`,
        `${f(cpuSecondsPerGiB(r.cpuPercent, r.mbPerSecond), 2)} / ${f(cpuSecondsPerGiB(r.server.cpuPercent, r.mbPerSecond), 2)}`,
        `${f(r.maxRssKiB / 1024, 0)} / ${f(r.server.maxRssKiB / 1024, 0)}`,
        r.lsIdle.n === 0 ? '-' : `${f(r.lsIdle.p50, 2)} / ${f(r.lsIdle.p99, 2)}`,
        r.lsBusy.n === 0
          ? '-'
          : `${f(r.lsBusy.p50, 2)} / ${f(r.lsBusy.p99, 2)} / ${f(r.lsBusy.max, 2)} (n=${r.lsBusy.n})`,
      ])
    }
  }
}
const header = [
  'run',
  `${(BYTES / 2 ** 20).toFixed(0)} MiB over one connection`,
  'MB/s',
  'ratio to plain TCP',
  'CPU % client / server',
  'CPU s per GiB client / server',
  'max RSS MiB client / server',
  'ls ms idle p50 / p99',
  'ls ms during transfer p50 / p99 / max',
]
const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i]!.length)))
const line = (cells: string[]) => `| ${cells.map((c, i) => c.padEnd(widths[i]!)).join(' | ')} |`
console.log(line(header))
console.log(line(widths.map((w) => '-'.repeat(w))))
for (const r of rows) console.log(line(r))
console.log(
  'Goals: udx >= 110 MB/s; tcp carrier >= 0.40 of plain TCP; ls p99 < 50 ms during a transfer.',
)
