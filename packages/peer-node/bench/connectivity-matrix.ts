// Connection matrix in the NAT lab (root only): every pair of {open, easy, hard, hard+mapping,
// ipv6}, plus hard<->hard with a relaying member and the TURN rows, N trials each. Prints a
// markdown table for docs/connectivity.md ("Connection matrix" says what a trial is).
//   node --import tsx --conditions=@harddrive-party/source bench/connectivity-matrix.ts [N] [a:b,...]
// One long-lived process per host (bench/fixtures/matrix-peer.ts) makes a fresh peer node per
// trial: new keys, storage, sockets, NAT detection, mapping, allocation; the routers' conntrack
// tables are flushed before each trial, so no trial profits from the previous one's NAT state.
// Time: from the later `join` of the trial's nodes to both ends having listed the other's root.
import { appendFile } from 'node:fs/promises'
import { loadavg } from 'node:os'
import { join } from 'node:path'
import type { LabHost, LabProcess } from '@harddrive-party/test-lab'
import { startMiniupnpd, startStunServer } from '@harddrive-party/test-lab'
import { peerLabSkipReason, startPeerLab } from '../test/peer-lab'

const N = Number(process.argv[2] ?? 3)
/** Optional `a:b,c:d` (row labels as printed, e.g. `hard:hard+relay(open)`): only these rows. */
const ONLY = process.argv[3]?.split(',')
/** One trial's bound from the later join to both listings. */
const TRIAL_MS = 30_000
const fixture = join(import.meta.dirname, 'fixtures/matrix-peer.ts')
/** The last trial's flush and per-member stop times (ms), for the per-trial record. */
const phases: Record<string, number> = {}

/** One JSON line per trial, kept after the run. */
const RESULTS = `/tmp/hdp-matrix-${process.pid}.jsonl`

type Kind = 'open' | 'easy' | 'hard' | 'hard+mapping' | 'ipv6' | 'hard+turn'
const MATRIX: Kind[] = ['open', 'easy', 'hard', 'hard+mapping', 'ipv6']
/** A coturn with TURN on the public net; `hard+turn` nodes are configured with it. */
const TURN = 'turn://hdp:bench@198.51.100.1:3480'
/** What a fresh node of each kind is started with (fixture `start` options). */
const OPTIONS: Record<Kind, object> = {
  open: {},
  easy: {},
  hard: {},
  'hard+mapping': { portMapping: 'nat-pmp' },
  // Only these bind dual-stack: every lab host has global IPv6, and a dual-stack node of another
  // kind would connect over IPv6 and hide its IPv4 kind.
  ipv6: { host: '::' },
  'hard+turn': { turn: TURN },
}

interface Row {
  a: Kind
  b: Kind
  /** A third member with `relay: true`, on the public net or behind an easy NAT. */
  relay?: 'open' | 'easy'
}
const ROWS: Row[] = [
  ...MATRIX.flatMap((a, i) => MATRIX.slice(i).map((b) => ({ a, b }))),
  { a: 'hard', b: 'hard', relay: 'open' },
  { a: 'hard', b: 'hard', relay: 'easy' },
  { a: 'hard', b: 'ipv6', relay: 'open' },
  // Control: a pair that can punch must not take the relay that is there.
  { a: 'easy', b: 'hard', relay: 'open' },
  { a: 'easy', b: 'hard+turn' },
  { a: 'hard', b: 'hard+turn' },
  { a: 'ipv6', b: 'hard+turn' },
  { a: 'hard+turn', b: 'hard+turn' },
]
const label = (r: Row) => `${r.a}:${r.b}${r.relay ? `+relay(${r.relay})` : ''}`

if (peerLabSkipReason('connectivity matrix') !== '') process.exit(1)
// Two of each kind, so a pair of one kind sits behind two different routers. The IPv6 hosts
// sit behind hard IPv4 NATs: only IPv6 connects them directly.
const peerLab = await startPeerLab({
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
    Q: 'easy',
  },
  hosts: {
    ...{ o1: undefined, o2: undefined, e1: 'E1', e2: 'E2', h1: 'H1', h2: 'H2' },
    ...{ m1: 'M1', m2: 'M2', v1: 'V1', v2: 'V2', t1: 'T1', t2: 'T2', r: undefined, q: 'Q' },
  },
  ipv6: true,
  prefix: 'hdp-matrix-',
})
const { lab } = peerLab
const startedAt = Date.now()
let trials = 0
try {
  const turn = await startStunServer({
    ns: lab.pub,
    addresses: ['198.51.100.1'],
    port: 3480,
    dir: lab.lab.dir,
    turn: { username: 'hdp', password: 'bench', realm: 'lab.example' },
  })
  peerLab.onStop(() => turn.stop())
  const [stun, other] = lab.stunServers
  for (const r of ['M1', 'M2']) {
    const u = await startMiniupnpd(lab.router(r), {
      stun: { host: stun!.host, port: stun!.port, otherHost: other!.host },
      dir: lab.lab.dir,
    })
    peerLab.onStop(() => u.stop())
    for (let i = 0; i < 100 && !u.process.stderr.includes('now enabled'); i++)
      await new Promise((resolve) => setTimeout(resolve, 100))
  }
  const HOSTS: Record<Kind, [string, string]> = {
    open: ['o1', 'o2'],
    easy: ['e1', 'e2'],
    hard: ['h1', 'h2'],
    'hard+mapping': ['m1', 'm2'],
    ipv6: ['v1', 'v2'],
    'hard+turn': ['t1', 't2'],
  }
  // One fixture process per host, started once (tsx start-up and imports: seconds each).
  const procs = new Map<string, LabProcess>()
  for (const [name, host] of Object.entries(peerLab.hosts)) {
    const proc = peerLab.start(host, { fixture, dir: join(peerLab.dir, name), topic: '-' })
    procs.set(name, proc)
  }
  for (const [name, proc] of procs)
    await proc.waitForLine(/^ready$/, { timeoutMs: 180_000 }).catch((err: unknown) => {
      throw new Error(`${name}: ${proc.stderr.slice(-2000)}`, { cause: err })
    })

  const rows: string[] = []
  for (const row of ROWS) {
    if (ONLY && !ONLY.includes(label(row))) continue
    const members: Member[] = [
      { name: HOSTS[row.a][0], options: OPTIONS[row.a] },
      { name: HOSTS[row.b][1], options: OPTIONS[row.b] },
      ...(row.relay ? [{ name: row.relay === 'open' ? 'r' : 'q', options: { relay: true } }] : []),
    ]
    const times: number[] = []
    const used = new Map<string, number>()
    const failures = new Map<string, number>()
    const count = (m: Map<string, number>, k: string) => m.set(k, (m.get(k) ?? 0) + 1)
    const rowStart = Date.now()
    const loadBefore = loadavg()[0]!
    // Without a relaying member or TURN, nothing in the lab can change a RELAY_REQUIRED plan.
    const finalRelayRequired = !row.relay && row.a !== 'hard+turn' && row.b !== 'hard+turn'
    for (let n = 0; n < N; n++) {
      const trialAt = Date.now()
      const result = await trial(
        members.map((m) => ({ ...m, proc: procs.get(m.name)!, host: peerLab.hosts[m.name]! })),
        finalRelayRequired,
      )
      trials++
      const record = { row: label(row), n, ...result, wallMs: Date.now() - trialAt, ...phases }
      await appendFile(RESULTS, `${JSON.stringify(record)}\n`)
      if (result.ms !== undefined) {
        times.push(result.ms)
        count(used, result.technique)
      } else {
        count(failures, result.failure)
        console.error(`${label(row)} #${n}: ${result.failure}`)
      }
    }
    const sorted = [...times].sort((x, y) => x - y)
    const median = sorted.length ? sorted[Math.floor((sorted.length - 1) / 2)] : undefined
    const techniques = [...used].map(([t, c]) => `${t} ×${c}`)
    const failed = [...failures].map(([f, c]) => `failed ×${c}: ${f}`)
    const trialSec = ((Date.now() - rowStart) / N / 1000).toFixed(1)
    const load = `${loadBefore.toFixed(1)}-${loadavg()[0]!.toFixed(1)}`
    const line = `| ${row.a} | ${row.b} | ${row.relay ? `member (${row.relay})` : row.a === 'hard+turn' || row.b === 'hard+turn' ? 'TURN' : '-'} | ${times.length}/${N} | ${median ?? '-'} | ${sorted.at(-1) ?? '-'} | ${[...techniques, ...failed].join(', ')} |`
    console.log(`${line}  <!-- ${trialSec} s/trial, load ${load} -->`)
    rows.push(line)
  }
  console.error(`every trial: ${RESULTS}`)
  console.log(`\n${trials} trials in ${((Date.now() - startedAt) / 60_000).toFixed(1)} min`)
  console.log('\n| A | B | relay present | connected | median ms | max ms | technique (dialer) |')
  console.log('|---|---|---|---|---|---|---|')
  for (const r of rows) console.log(r)
} finally {
  await peerLab.stop()
}

interface Member {
  name: string
  options: object
}

type TrialResult = (
  | { ms: number; technique: string; tried: string[]; attempts: number; carrier: string }
  | { ms: undefined; failure: string }
) & { startMs?: number }

/**
 * One trial: flush the members' routers' conntrack, start a fresh node in each member's process
 * on a new topic, then wait until the first two have listed each other's root.
 */
async function trial(
  members: (Member & { proc: LabProcess; host: LabHost })[],
  finalRelayRequired: boolean,
): Promise<TrialResult> {
  const routers = new Set(members.flatMap((m) => (m.host.nat ? [m.host.nat.name] : [])))
  for (const key of Object.keys(phases)) delete phases[key]
  const flushAt = Date.now()
  await Promise.all([...routers].map((r) => lab.flushConntrack(r)))
  phases.flushMs = Date.now() - flushAt
  const topic = `matrix-${process.pid}-${trials}`
  const [a, b] = members as [(typeof members)[0], (typeof members)[0]]
  try {
    const startAt = Date.now()
    const started = await Promise.all(
      members.map((m) => command(m.proc, `start ${topic} ${JSON.stringify(m.options)}`)),
    )
    const startMs = Date.now() - startAt
    const [ka, kb] = started.map((line) => line.split(' ')[1]!)
    const t0 = Math.max(...started.map((line) => Number(line.split(' ')[2])))
    const marks = [a.proc.lines.length, b.proc.lines.length]
    a.proc.send(`watch ${kb}`)
    b.proc.send(`watch ${ka}`)
    const deadline = Date.now() + TRIAL_MS
    for (;;) {
      const seen = [a, b].map((m, i) => m.proc.lines.slice(marks[i]))
      const listed = seen.map((lines) => lines.find((l) => l.startsWith('listed ')))
      if (listed[0] && listed[1]) {
        const infos = listed.map((l) => JSON.parse(l!.split(' ').slice(3).join(' ')))
        const dialer = infos.find((info) => info.initiator) ?? {}
        return {
          ms: Math.max(...listed.map((l) => Number(l!.split(' ')[2]))) - t0,
          technique: String(dialer.used ?? '?'),
          tried: dialer.tried ?? [],
          attempts: Number(dialer.attempts ?? 0),
          carrier: String(dialer.carrier ?? '?'),
          startMs,
        }
      }
      const failures = seen.flat().filter((l) => /^(failure|error) /.test(l))
      const last = failures.at(-1)?.replace(/^failure \S+ /, '')
      const relayRequired = failures.find((l) => l.includes('use a relay'))
      if (relayRequired && finalRelayRequired)
        return { ms: undefined, failure: 'RELAY_REQUIRED', startMs }
      if (failures.some((l) => l.startsWith('error ')) || Date.now() > deadline) {
        const failure = `${Date.now() > deadline ? 'timeout; ' : ''}${last}`
        return { ms: undefined, failure, startMs }
      }
      await new Promise((resolve) => setTimeout(resolve, 20))
    }
  } catch (err) {
    return { ms: undefined, failure: String((err as Error).message).split('\n')[0]! }
  } finally {
    const stopAt = Date.now()
    await Promise.allSettled(
      members.map((m) =>
        command(m.proc, 'stop').then(() => {
          phases[`stop ${m.name}`] = Date.now() - stopAt
        }),
      ),
    )
  }
}

/** Sends `line`; resolves with the answer line (`started`/`stopped`), throws on `error`. */
async function command(proc: LabProcess, line: string): Promise<string> {
  const from = proc.lines.length
  proc.send(line)
  const got = await proc.waitForLine(/^(started |stopped$|error )/, {
    after: from,
    timeoutMs: 60_000,
  })
  if (got.startsWith('error ')) throw new Error(`${line.split(' ')[0]}: ${got}`)
  return got
}
