// Scan speed: our first scan, incremental rescan and full rescan of a generated tree of
// 200,000 files in 20,000 directories, side by side with `find DIR -printf '%s\n'` (which
// reads the same directories and stats the same files) in the same run, on a warm cache.
import { execFileSync } from 'node:child_process'
import {
  closeSync,
  ftruncateSync,
  mkdirSync,
  mkdtempSync,
  openSync,
  readdirSync,
  rmSync,
  statSync,
  utimesSync,
} from 'node:fs'
import { availableParallelism, loadavg, tmpdir } from 'node:os'
import { join } from 'node:path'
import { fdir } from 'fdir'
import { openIndexStore } from '../src/index'
import { freeDiskGb, median, table, timeMs } from './util'

const FILES = 200_000
const DIRS = 20_000
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 3)

function generate(root: string): void {
  // 20 top directories × 999 subdirectories (+ the 20 = 20,000 directories below the root),
  // 10 files each, the rest of the 200,000 files in the top directories. Sparse files.
  mkdirSync(root)
  let files = 0
  let dirs = 0
  for (let a = 0; a < 20; a++) {
    const top = join(root, `Artist ${a}`)
    mkdirSync(top)
    dirs++
    for (let b = 0; b < DIRS / 20 - 1; b++) {
      const album = join(top, `Album ${b} (${1960 + (b % 60)})`)
      mkdirSync(album)
      dirs++
      for (let f = 0; f < 10; f++) {
        const fd = openSync(
          join(album, `${String(f + 1).padStart(2, '0')} Track name ${a}-${b}-${f}.flac`),
          'w',
        )
        ftruncateSync(fd, 1000 + ((a * 7919 + b * 31 + f) % 50_000_000))
        closeSync(fd)
        files++
      }
    }
  }
  for (let i = 0; files < FILES; i++, files++)
    closeSync(openSync(join(root, `Artist ${i % 20}`, `extra ${i}.txt`), 'w'))
  // Old directory mtimes, so an incremental rescan may trust them (as on a real collection).
  const past = Date.now() / 1000 - 86_400
  const age = (d: string) => {
    for (const e of readdirSync(d, { withFileTypes: true }))
      if (e.isDirectory()) age(join(d, e.name))
    utimesSync(d, past, past)
  }
  age(root)
  if (dirs !== DIRS) throw new Error(`made ${dirs} directories below the root`)
}

function find(root: string): void {
  execFileSync('sh', ['-c', `find "${root}" -printf '%s\\n' > /dev/null`])
}

function fdirWithStat(root: string): number {
  let bytes = 0
  for (const p of new fdir().withFullPaths().crawl(root).sync()) bytes += statSync(p).size
  return bytes
}

/** One store per thread setting, its thread pool started beforehand (started once per store). */
async function openWarmStore(base: string, scanThreads: number) {
  const db = mkdtempSync(join(base, 'db-'))
  const store = await openIndexStore({ path: db, scanThreads })
  const tiny = mkdtempSync(join(base, 'warm-'))
  await store.shares.add(tiny)
  const startMs = await timeMs(() => store.rescan())
  return { store, startMs }
}

async function ourScan(store: Awaited<ReturnType<typeof openIndexStore>>, root: string) {
  const share = await store.shares.add(root)
  const first = await timeMs(() => store.rescan({ share: share.name }))
  const summary = (await store.rescan({ share: share.name })).shares[0]
  const rescan = await timeMs(() => store.rescan({ share: share.name }))
  const full = await timeMs(() => store.rescan({ share: share.name, full: true }))
  const files = store.shares.get(share.name)?.files
  await store.shares.remove(share.name)
  if (files !== FILES) throw new Error(`indexed ${files} files`)
  if (summary?.unchanged !== DIRS + 1) throw new Error(`trusted ${summary?.unchanged} directories`)
  return { first, rescan, full }
}

async function main() {
  const base = mkdtempSync(join(tmpdir(), 'hdp-scan-bench-'))
  try {
    if (freeDiskGb(base) < 2) throw new Error('less than 2 GB free for the generated tree')
    const root = join(base, 'collection')
    const genMs = await timeMs(() => generate(root))
    process.stdout.write(
      `generated ${FILES} files in ${DIRS} directories in ${(genMs / 1000).toFixed(1)} s (${base})\n`,
    )
    find(root) // warm the cache
    const stores = [await openWarmStore(base, 2), await openWarmStore(base, 0)]
    await ourScan(stores[0]?.store as Awaited<ReturnType<typeof openIndexStore>>, root)
    const rows: Record<string, number[]> = {}
    const add = (k: string, v: number) => {
      rows[k] ??= []
      rows[k].push(v)
    }
    for (let r = 0; r < ROUNDS; r++) {
      add('find', await timeMs(() => find(root)))
      for (const [i, threads] of [2, 0].entries()) {
        const s = await ourScan(
          stores[i]?.store as Awaited<ReturnType<typeof openIndexStore>>,
          root,
        )
        add(`first scan, ${threads} threads`, s.first)
        add(`rescan (nothing changed), ${threads} threads`, s.rescan)
        add(`full rescan (nothing trusted), ${threads} threads`, s.full)
      }
      add('fdir crawl + statSync (no index)', await timeMs(() => fdirWithStat(root)))
      add('find ', await timeMs(() => find(root)))
    }
    for (const { store } of stores) await store.close()
    process.stdout.write(
      `scan thread pool start (once per store; from source through tsx): ${stores[0]?.startMs.toFixed(0)} ms\n`,
    )
    const findMs = median([...(rows.find ?? []), ...(rows['find '] ?? [])])
    const out: (string | number)[][] = [['what', `median ms (${ROUNDS} rounds)`, 'vs find']]
    out.push(['find DIR -printf %s', findMs, '1.00'])
    for (const [k, v] of Object.entries(rows)) {
      if (k.startsWith('find')) continue
      out.push([k, median(v), (median(v) / findMs).toFixed(2)])
    }
    table(out)
    process.stdout.write(
      `goal: first scan / find <= 1.5 on a warm cache (load average ${loadavg()[0]?.toFixed(1)} on ${availableParallelism()} cores)\n`,
    )
  } finally {
    rmSync(base, { recursive: true, force: true })
  }
}

await main()
