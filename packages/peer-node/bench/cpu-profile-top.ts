// Summarises V8 CPU profiles (`--cpu-prof`, e.g. from BENCH_CPU_PROF=<dir> of the downloads
// bench): the functions with the most self time, per profile file.
// Run: npx tsx packages/peer-node/bench/cpu-profile-top.ts <dir or .cpuprofile>... [--top 25]
//   [--during <name>]: only the time between the first and the last sample of a function whose
//   name contains <name> (e.g. `xchacha20poly1305`: the transfer, not start-up and module loading);
//   [--all-threads]: worker threads' profiles too (by default the main thread's only).
import { readdir, readFile, stat } from 'node:fs/promises'
import { join, relative } from 'node:path'

interface ProfileNode {
  id: number
  callFrame: { functionName: string; url: string; lineNumber: number }
}

interface Profile {
  nodes: ProfileNode[]
  samples: number[]
  timeDeltas: number[]
  startTime: number
  endTime: number
}

async function profilesIn(path: string): Promise<string[]> {
  if (!(await stat(path)).isDirectory()) return [path]
  const out: string[] = []
  for (const name of (await readdir(path)).sort()) out.push(...(await profilesIn(join(path, name))))
  return out.filter((p) => p.endsWith('.cpuprofile'))
}

/** Where a function lives, short: the package and file, or node's internal module. */
function where(url: string, line: number): string {
  if (url === '') return ''
  const path = url.replace(/^file:\/\//, '')
  const inPackage = path.match(/node_modules\/\.pnpm\/[^/]+\/node_modules\/(.+)$/)
  const short = inPackage?.[1] ?? (path.startsWith('/') ? relative(process.cwd(), path) : path)
  return `${short}:${line + 1}`
}

/** Sample times (µs) and, with `during`, the window from its first to its last sample. */
function window(profile: Profile, byId: Map<number, ProfileNode>, during: string | undefined) {
  const times: number[] = []
  let t = profile.startTime
  for (const delta of profile.timeDeltas) {
    t += delta
    times.push(t)
  }
  if (during === undefined) return { times, from: -Infinity, to: Infinity }
  let from = Infinity
  let to = -Infinity
  profile.samples.forEach((id, i) => {
    if (!byId.get(id)?.callFrame.functionName.includes(during)) return
    from = Math.min(from, times[i]!)
    to = Math.max(to, times[i]!)
  })
  return { times, from, to }
}

function summarise(profile: Profile, top: number, during: string | undefined): string[] {
  const byId = new Map(profile.nodes.map((n) => [n.id, n]))
  const { times, from, to } = window(profile, byId, during)
  if (from === Infinity) return [`no sample of ${during}`]
  const selfUs = new Map<string, number>()
  let total = 0
  profile.samples.forEach((id, i) => {
    const node = byId.get(id)
    const delta = profile.timeDeltas[i] ?? 0
    if (node === undefined || times[i]! < from || times[i]! > to) return
    const { functionName, url, lineNumber } = node.callFrame
    const key = `${functionName || '(anonymous)'} ${where(url, lineNumber)}`.trim()
    selfUs.set(key, (selfUs.get(key) ?? 0) + delta)
    total += delta
  })
  const wallMs = (Math.min(to, profile.endTime) - Math.max(from, profile.startTime)) / 1000
  const idle = selfUs.get('(idle)') ?? 0
  const lines = [
    `wall ${wallMs.toFixed(0)} ms, sampled ${(total / 1000).toFixed(0)} ms, busy ${((total - idle) / 1000).toFixed(0)} ms`,
  ]
  const sorted = [...selfUs].sort((a, b) => b[1] - a[1]).slice(0, top)
  for (const [key, us] of sorted) {
    lines.push(
      `${(us / 1000).toFixed(0).padStart(7)} ms ${((us / total) * 100).toFixed(1).padStart(5)} %  ${key}`,
    )
  }
  return lines
}

const args = process.argv.slice(2)
const option = (name: string) => {
  const at = args.indexOf(name)
  return at === -1 ? undefined : args.splice(at, 2)[1]
}
const top = Number(option('--top') ?? 25)
const during = option('--during')
const allThreads = args.includes('--all-threads')
const paths = args.filter((a) => a !== '--all-threads')
for (const path of paths) {
  for (const file of await profilesIn(path)) {
    // CPU.<date>.<time>.<pid>.<thread>.<seq>.cpuprofile: thread 0 is the main thread.
    if (!allThreads && !/\.\d+\.0\.\d+\.cpuprofile$/.test(file)) continue
    const profile = JSON.parse(await readFile(file, 'utf8')) as Profile
    console.log(`\n== ${file}`)
    for (const line of summarise(profile, top, during)) console.log(line)
  }
}
