// ls and search latency over about 1,000,000 indexed names, and peak RSS while serving them,
// each next to a baseline measured in the same run: ls vs reading a real 10,000-file directory
// (readdir + lstat); search vs the obvious in-memory scan of every lower-cased name; RSS vs the
// same process with an empty store.
import { execFileSync } from 'node:child_process'
import {
  closeSync,
  lstatSync,
  mkdirSync,
  mkdtempSync,
  openSync,
  readdirSync,
  rmSync,
} from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { foldName } from '../src/fold'
import { buildSyntheticIndex, word } from './synthetic'
import { median, percentile, table, timeMs } from './util'

const base = mkdtempSync(join(tmpdir(), 'hdp-query-bench-'))
try {
  const db = join(base, 'db')
  const buildMs = await timeMs(async () => {
    const { names } = await buildSyntheticIndex(db)
    ;(globalThis as { names?: string[] }).names = names
  })
  const names = (globalThis as { names?: string[] }).names as string[]
  process.stdout.write(
    `built a synthetic index of ${names.length} names in ${(buildMs / 1000).toFixed(1)} s\n`,
  )

  // Terms: common words (many hits, the 1000-limit ends the search early), rare ones (a full
  // scan with few hits), two words, and none at all (the worst case: everything is scanned).
  const terms = [
    ...[1, 2, 3].map((i) => ({ kind: 'common word', term: word(i * 97).slice(0, 4) })),
    ...[5, 6, 7].map((i) => ({ kind: 'rare word', term: word(i * 131) })),
    ...[8, 9].map((i) => ({
      kind: 'two words',
      term: `${word(i * 17)} ${word(i * 29).slice(0, 3)}`,
    })),
    ...[10, 11].map((i) => ({ kind: 'no match', term: `zz${word(i)}qq` })),
  ]
  const node = [process.execPath, join(import.meta.dirname, 'query-server.mjs')]
  const run = (args: string[]) =>
    JSON.parse(
      execFileSync(node[0] as string, [...node.slice(1), ...args], { maxBuffer: 1 << 26 })
        .toString()
        .trim()
        .split('\n')
        .at(-1) as string,
    )
  // Once with the database hot in the page cache (just written: the kernel maps cached
  // neighbours of every touched page into the process), once after evicting it (as after a
  // reboot), so that RSS shows what the process really pulls in.
  const hot = run([db, '--serve', JSON.stringify(terms)])
  const evict = () => {
    for (const f of [join(db, 'data.mdb'), join(db, 'search', 'data.mdb')]) {
      execFileSync('dd', [
        `of=${f}`,
        'oflag=nocache',
        'conv=notrunc,fdatasync',
        'count=0',
        'status=none',
      ])
    }
  }
  evict()
  const served = run([db, '--serve', JSON.stringify(terms)])
  const emptyDb = join(base, 'empty-db')
  const empty = run([emptyDb, '--empty'])

  // Baselines.
  const realDir = join(base, 'real-10k')
  mkdirSync(realDir)
  for (let i = 0; i < 10_000; i++) closeSync(openSync(join(realDir, `${word(i)} ${i}.jpg`), 'w'))
  const fsLs: number[] = []
  for (let i = 0; i < 30; i++) {
    fsLs.push(
      await timeMs(() => {
        for (const n of readdirSync(realDir)) lstatSync(join(realDir, n))
      }),
    )
  }
  const folded = names.map(foldName)
  const naive: { kind: string; ms: number }[] = []
  for (const { kind, term } of terms) {
    const words = foldName(term).split(/\s+/)
    let hits = 0
    const ms = await timeMs(() => {
      for (const n of folded) if (words.every((w) => n.includes(w)) && ++hits >= 1000) break
    })
    naive.push({ kind, ms })
  }

  const ms = (xs: number[]) => [median(xs), percentile(xs, 99)]
  const rows: (string | number)[][] = [['query', 'p50 ms', 'p99 ms', 'baseline', 'baseline p50 ms']]
  rows.push([
    'ls 10,000-entry dir (all)',
    ...ms(served.lsFull),
    'readdir + lstat of a real 10,000-file dir',
    median(fsLs),
  ])
  rows.push(['ls 10,000-entry dir (page of 1000)', ...ms(served.lsPage), '', ''])
  const all = (served.search as { ms: number }[]).map((s) => s.ms)
  rows.push([
    `search, ${names.length} names, limit 1000 (all kinds)`,
    ...ms(all),
    'in-memory includes() over all names',
    median(naive.map((n) => n.ms)),
  ])
  for (const kind of ['common word', 'rare word', 'two words', 'no match']) {
    const mine = (served.search as { kind: string; ms: number }[])
      .filter((s) => s.kind === kind)
      .map((s) => s.ms)
    rows.push([
      `  search: ${kind}`,
      ...ms(mine),
      '',
      median(naive.filter((n) => n.kind === kind).map((n) => n.ms)),
    ])
  }
  table(rows)
  process.stdout.write('goals: ls < 20 ms p50, search < 300 ms p50\n\n')
  table([
    ['process', 'peak RSS MB', 'RSS anon MB', 'RSS file MB'],
    [
      'serving the 1M-name index, database not in page cache',
      served.peakRssMb,
      served.rssAnonMb,
      served.rssFileMb,
    ],
    [
      'serving the 1M-name index, database hot in page cache',
      hot.peakRssMb,
      hot.rssAnonMb,
      hot.rssFileMb,
    ],
    [
      'same process, empty store (baseline: node + lmdb)',
      empty.peakRssMb,
      empty.rssAnonMb,
      empty.rssFileMb,
    ],
  ])
  process.stdout.write('goal: < 200 MB while serving a 1,000,000-entry index\n')
} finally {
  rmSync(base, { recursive: true, force: true })
}
