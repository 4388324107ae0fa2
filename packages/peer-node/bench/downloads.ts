// Downloads through the whole node on loopback (two processes: the fixture peers), beside a
// plain node:net copy of the same bytes in the same run (the big file's just before each node
// download). The big file goes over each carrier (a pair of peers per carrier: the `tcp` pair
// races UDX and TCP, and is made again until TCP wins; the `udx` pair has no TCP carrier); the
// small files over the default pair. Every downloaded file is checked against the source's
// sha256. Prints a table, the CPU time per GiB of each big download on both sides, and peak RSS.
// Run: pnpm --filter @harddrive-party/peer-node bench:downloads
//   BENCH_GIB=0.25: a smaller big file; BENCH_SMALL=0: no small-file rows;
//   BENCH_SMALL_ROUNDS=3: the small files are downloaded this many times (each beside its own
//   tar-like node:net copy), then the median;
//   BENCH_CARRIERS=tcp,udx: which pairs run the big file (default both);
//   BENCH_CPU_PROF=<dir>: every peer writes a CPU profile to <dir>/<carrier>-<role> when it
//   stops (summarise with bench/cpu-profile-top.ts);
//   BENCH_UV_THREADS=<n>: the peers' libuv thread-pool size (default 16, as the command sets it
//   in apps/cli/bin/hdp.cjs; 4 is Node's own default).
import { execFileSync } from 'node:child_process'
import { createHash, randomBytes } from 'node:crypto'
import { createReadStream, createWriteStream, readFileSync, writeFileSync } from 'node:fs'
import { mkdir, mkdtemp, open, readdir, rename, rm, stat, writeFile } from 'node:fs/promises'
import { connect, createServer } from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { pipeline } from 'node:stream/promises'
import { startMosquitto } from '@harddrive-party/discovery/testing'
import { peerName } from '@harddrive-party/peer-node'
import { LabProcess, tsNodeArgs } from '@harddrive-party/test-lab'

const GIB = Number(process.env.BENCH_GIB ?? 1)
const SMALL = Number(process.env.BENCH_SMALL ?? 10_000)
const SMALL_ROUNDS = Math.max(1, Number(process.env.BENCH_SMALL_ROUNDS ?? 3))
const CARRIERS = (process.env.BENCH_CARRIERS ?? 'tcp,udx').split(',').filter(Boolean)
const PROFILE = process.env.BENCH_CPU_PROF
const UV_THREADS = process.env.BENCH_UV_THREADS ?? '16'
const fixture = join(import.meta.dirname, '../test/fixtures/download-peer.ts')
const root = await mkdtemp(join(tmpdir(), 'hdp-bench-downloads-'))
const broker = await startMosquitto()
const procs: LabProcess[] = []

/** sha256 of each source file, by name, computed while the data is made. */
const sources = new Map<string, string>()
const hex = (data: Uint8Array | Iterable<Uint8Array>) => {
  const hash = createHash('sha256')
  for (const part of data instanceof Uint8Array ? [data] : data) hash.update(part)
  return hash.digest('hex')
}

async function sha256(path: string): Promise<string> {
  const hash = createHash('sha256')
  for await (const chunk of createReadStream(path, { highWaterMark: 1024 * 1024 })) {
    hash.update(chunk as Buffer)
  }
  return hash.digest('hex')
}

async function makeData(): Promise<{ big: string; small: string }> {
  const big = join(root, 'share', 'big')
  const small = join(root, 'share', 'small')
  await mkdir(big, { recursive: true })
  await mkdir(small, { recursive: true })
  const handle = await open(join(big, 'one.bin'), 'w')
  const hash = createHash('sha256')
  const block = randomBytes(1024 * 1024)
  for (let i = 0; i < GIB * 1024; i++) {
    block.writeUInt32BE(i, 0)
    hash.update(block)
    await handle.write(block)
  }
  await handle.close()
  sources.set('big/one.bin', hash.digest('hex'))
  for (let i = 0; i < SMALL; i++) {
    const bytes = randomBytes(4096)
    sources.set(`small/f${i}.bin`, hex(bytes))
    await writeFile(join(small, `f${i}.bin`), bytes)
  }
  return { big, small }
}

/** Compares every file of `dir` (a copy of source folder `folder`) with the source's sha256. */
async function verify(dir: string, folder: string): Promise<string> {
  const names = await readdir(dir)
  const expected = [...sources.keys()].filter((k) => k.startsWith(`${folder}/`))
  let bad = names.length === expected.length ? 0 : Math.abs(names.length - expected.length)
  for (const name of names) {
    if (sources.get(`${folder}/${name}`) !== (await sha256(join(dir, name)))) bad++
  }
  return bad === 0
    ? `sha256 of ${names.length} equal`
    : `${bad} of ${expected.length} DIFFER/MISSING`
}

/**
 * A `tar | nc` of many small files through node:net: the sender reads each file whole with a
 * synchronous call and writes a name-and-size header and the bytes to one socket; the receiver
 * writes each file with one synchronous call (no fsync, as tar does not). The rate the disk
 * allows for new small files right now: ext4 without a journal (this machine's `/`) skips
 * inodes freed in the last 1-6 minutes one by one (`recently_deleted` in the kernel's profile),
 * so after a mass deletion each new file costs ~0.5 ms instead of ~30 µs, for any program.
 */
async function netCopyMany(dir: string, to: string): Promise<number> {
  await mkdir(to, { recursive: true })
  const names = await readdir(dir)
  const server = createServer((socket) => {
    let at = 0
    const more = () => {
      while (at < names.length) {
        const name = names[at++]!
        const bytes = readFileSync(join(dir, name))
        const head = Buffer.alloc(8 + Buffer.byteLength(name))
        head.writeUInt32BE(Buffer.byteLength(name), 0)
        head.writeUInt32BE(bytes.length, 4)
        head.write(name, 8)
        socket.write(head)
        if (!socket.write(bytes)) return void socket.once('drain', more)
      }
      socket.end()
    }
    more()
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  const port = (server.address() as { port: number }).port
  const began = performance.now()
  const socket = connect(port, '127.0.0.1')
  let buffer: Buffer = Buffer.alloc(0)
  for await (const data of socket) {
    buffer = buffer.length === 0 ? (data as Buffer) : Buffer.concat([buffer, data as Buffer])
    let at = 0
    while (buffer.length - at >= 8) {
      const nameLength = buffer.readUInt32BE(at)
      const size = buffer.readUInt32BE(at + 4)
      if (buffer.length - at < 8 + nameLength + size) break
      const name = buffer.toString('utf8', at + 8, at + 8 + nameLength)
      writeFileSync(
        join(to, name),
        buffer.subarray(at + 8 + nameLength, at + 8 + nameLength + size),
      )
      at += 8 + nameLength + size
    }
    buffer = buffer.subarray(at)
  }
  server.close()
  return performance.now() - began
}

/** Node:net copy of every file of `dir` to `to`: length-prefixed name and bytes on one socket. */
async function netCopy(dir: string, to: string): Promise<number> {
  await mkdir(to, { recursive: true })
  const names = await readdir(dir)
  const server = createServer(async (socket) => {
    socket.setMaxListeners(0)
    for (const name of names) {
      const path = join(dir, name)
      const { size } = await stat(path)
      const head = Buffer.alloc(12 + Buffer.byteLength(name))
      head.writeUInt32BE(Buffer.byteLength(name), 0)
      head.writeDoubleBE(size, 4)
      head.write(name, 12)
      socket.write(head)
      await pipeline(createReadStream(path), socket, { end: false })
    }
    socket.end()
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  const port = (server.address() as { port: number }).port
  const began = performance.now()
  const socket = connect(port, '127.0.0.1')
  let buffer = Buffer.alloc(0)
  let current: { out: ReturnType<typeof createWriteStream>; left: number } | undefined
  for await (const data of socket) {
    buffer = Buffer.concat([buffer, data as Buffer])
    for (;;) {
      if (current === undefined) {
        if (buffer.length < 12) break
        const nameLength = buffer.readUInt32BE(0)
        if (buffer.length < 12 + nameLength) break
        const left = buffer.readDoubleBE(4)
        const name = buffer.subarray(12, 12 + nameLength).toString()
        buffer = buffer.subarray(12 + nameLength)
        current = { out: createWriteStream(join(to, name)), left }
      }
      const take = Math.min(current.left, buffer.length)
      if (take > 0) current.out.write(buffer.subarray(0, take))
      buffer = buffer.subarray(take)
      current.left -= take
      if (current.left > 0) break
      const out = current.out
      await new Promise((resolve) => out.end(resolve))
      current = undefined
    }
  }
  server.close()
  return performance.now() - began
}

function start(dir: string, extra: string[], profileName: string): LabProcess {
  const profile =
    PROFILE === undefined ? [] : ['--cpu-prof', '--cpu-prof-dir', join(PROFILE, profileName)]
  const proc = new LabProcess(
    process.execPath,
    [...profile, ...tsNodeArgs(), fixture, '--dir', dir, '--broker', broker.url, ...extra],
    { env: { ...process.env, UV_THREADPOOL_SIZE: UV_THREADS } },
  )
  procs.push(proc)
  return proc
}

/** CPU time a peer used so far, in ms (user + system). */
async function cpuMs(proc: LabProcess): Promise<number> {
  const from = proc.lines.length
  proc.send('cpu')
  const line = await proc.waitForLine(/^cpu /, { after: from, timeoutMs: 10_000 })
  return Number(line.split(' ')[1]) / 1000
}

async function rss(proc: LabProcess): Promise<number> {
  const from = proc.lines.length
  proc.send('rss')
  return Number((await proc.waitForLine(/^rss /, { after: from, timeoutMs: 10_000 })).split(' ')[1])
}

/** Stops a pair cleanly (a CPU profile is written on a clean exit only). */
async function stopPair(pair: readonly LabProcess[]): Promise<void> {
  for (const p of pair) p.send('stop')
  await Promise.race([
    Promise.allSettled(pair.map((p) => p.exited)),
    new Promise((resolve) => setTimeout(resolve, 30_000)),
  ])
  await Promise.allSettled(pair.map((p) => p.stop(5000)))
}

interface Pair {
  server: LabProcess
  client: LabProcess
  key: string
  /** The carrier the connection uses, as the downloading peer saw it. */
  carrier: string
  landed: string
}

/** A serving and a downloading peer on their own topic; `udx`: neither has a TCP carrier. */
async function startPair(name: string, attempt: number): Promise<Pair> {
  const carrierArgs = name === 'udx' ? ['--tcp', '0'] : []
  const topic = ['--topic', `bench-${name}-${attempt}`, ...carrierArgs]
  const server = start(
    join(root, `${name}-${attempt}-a`),
    [...topic, '--share', join(root, 'share')],
    `${name}-serving`,
  )
  const key = (await server.waitForLine(/^ready /, { timeoutMs: 120_000 })).split(' ')[1]!
  const downloads = join(root, `${name}-downloads`)
  const client = start(
    join(root, `${name}-${attempt}-b`),
    [...topic, '--downloads', downloads],
    `${name}-downloading`,
  )
  const line = await client.waitForLine(`connect ${key}`, { timeoutMs: 60_000 })
  const carrier = line.split(' ')[2] ?? '?'
  const landed = join(downloads, peerName(Buffer.from(key, 'hex')), 'share')
  return { server, client, key, carrier, landed }
}

/**
 * A pair connected over `name`'s carrier. Both carriers race on loopback and TCP wins only
 * when its connect took under 5 ms (transport's carrier-race): on a busy machine UDX may win,
 * so a pair that should be `tcp` is made again (up to 4 times; else it runs over what it got,
 * and the table says so).
 */
async function pairOver(name: string): Promise<Pair> {
  for (let attempt = 1; ; attempt++) {
    const pair = await startPair(name, attempt)
    if (pair.carrier === name || attempt === 4) return pair
    console.error(`the ${name} pair connected over ${pair.carrier}; making it again`)
    await stopPair([pair.server, pair.client])
  }
}

/** Downloads `share/<folder>` through the pair; the time from `add` to the request's `done`. */
async function download(pair: Pair, folder: string): Promise<number> {
  const { client, key } = pair
  const from = client.lines.length
  const began = performance.now()
  client.send(`download ${key} share/${folder}`)
  const id = (await client.waitForLine(/^added /, { after: from })).split(' ')[1]
  const end = await client.waitForLine(new RegExp(`^(done|failed) ${id}`), {
    after: from,
    timeoutMs: 3_600_000,
  })
  if (end.startsWith('failed')) throw new Error(`download of ${folder} ${end}`)
  return performance.now() - began
}

function rateOf(files: number, bytes: number, ms: number): string {
  if (files > 1) return `${Math.round((files / ms) * 1000)} files/s`
  const perSecond = ((bytes / ms) * 1000) / 1e6
  return `${perSecond.toFixed(perSecond >= 10 ? 0 : 1)} MB/s`
}
const mib = (n: number) => `${Math.round(n / 1024)} MiB`
const median = (values: number[]) =>
  [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)]!

try {
  const { big, small } = await makeData()
  const bigBytes = GIB * 2 ** 30
  const rows: string[] = []
  const rssLines: string[] = []
  const row = (what: string, via: string, ms: number, netMs: number, check: string, n = 1) =>
    rows.push(
      `| ${what} | ${via} | ${rateOf(n, n === 1 ? bigBytes : n * 4096, ms)} (${(ms / 1000).toFixed(1)} s) | ${(netMs / ms).toFixed(2)}x | ${check} |`,
    )
  // The new data on the disk first: its write-back would otherwise land in whichever copy runs
  // 30 s later (the kernel's dirty_expire), and the first ones would not pay for it.
  execFileSync('sync')
  for (const name of CARRIERS) {
    const pair = await pairOver(name)
    try {
      // The node:net copy runs just before each node download: the two meet the same page cache
      // and write-back (one copy at the start ranged 198-394 MB/s in runs minutes apart).
      const netBig = await netCopy(big, join(root, 'net', 'big'))
      const netBigCheck = await verify(join(root, 'net', 'big'), 'big')
      await rm(join(root, 'net', 'big'), { recursive: true })
      execFileSync('sync')
      row(`${GIB} GiB file`, 'node:net', netBig, netBig, netBigCheck)
      const cpuBefore = [await cpuMs(pair.server), await cpuMs(pair.client)]
      const ms = await download(pair, 'big')
      const cpu = [
        (await cpuMs(pair.server)) - cpuBefore[0]!,
        (await cpuMs(pair.client)) - cpuBefore[1]!,
      ]
      rssLines.push(
        `CPU per GiB of the big file (${pair.carrier} pair): serving ${(cpu[0]! / 1000 / GIB).toFixed(2)} s, downloading ${(cpu[1]! / 1000 / GIB).toFixed(2)} s`,
      )
      const check = await verify(join(pair.landed, 'big'), 'big')
      await rm(join(pair.landed, 'big'), { recursive: true })
      row(`${GIB} GiB file`, `node, ${pair.carrier} carrier`, ms, netBig, check)
      if (SMALL > 0 && name === CARRIERS[0]) {
        const what = `${SMALL} files of 4 KiB`
        const nodeMs: number[] = []
        const netMs: number[] = []
        const checks: string[] = []
        let servingCpu = 0
        let downloadingCpu = 0
        for (let round = 1; round <= SMALL_ROUNDS; round++) {
          // The last round's tar-like copy is not synced (as tar does not sync): its write-back
          // would land 30 s later, in this round's fsyncs.
          execFileSync('sync')
          const before = [await cpuMs(pair.server), await cpuMs(pair.client)]
          const ms = await download(pair, 'small')
          servingCpu += (await cpuMs(pair.server)) - before[0]!
          downloadingCpu += (await cpuMs(pair.client)) - before[1]!
          const check = await verify(join(pair.landed, 'small'), 'small')
          // Moved aside, not removed: on ext4 without a journal (this machine's `/`), inodes
          // freed in the last minutes slow every new file, the next round's too (see netCopyMany).
          await rename(join(pair.landed, 'small'), join(root, `kept-node-${round}`))
          const net = await netCopyMany(small, join(root, 'net', 'small'))
          const netCheck = await verify(join(root, 'net', 'small'), 'small')
          await rename(join(root, 'net', 'small'), join(root, `kept-net-${round}`))
          nodeMs.push(ms)
          netMs.push(net)
          checks.push(check, netCheck)
          row(`${what}, round ${round}`, 'node:net (tar-like)', net, net, netCheck, SMALL)
          row(`${what}, round ${round}`, `node, ${pair.carrier} carrier`, ms, net, check, SMALL)
        }
        if (SMALL_ROUNDS > 1) {
          const allEqual = checks.every((c) => c === checks[0]) ? checks[0]! : checks.join('; ')
          const netMedian = median(netMs)
          row(`${what}, median`, 'node:net (tar-like)', netMedian, netMedian, allEqual, SMALL)
          row(
            `${what}, median`,
            `node, ${pair.carrier} carrier`,
            median(nodeMs),
            netMedian,
            allEqual,
            SMALL,
          )
        }
        const perThousand = (ms: number) => ((ms / (SMALL * SMALL_ROUNDS)) * 1000).toFixed(0)
        const busy = (servingCpu + downloadingCpu) / nodeMs.reduce((a, b) => a + b, 0)
        rssLines.push(
          `CPU per 1,000 small files (${pair.carrier} pair): serving ${perThousand(servingCpu)} ms, downloading ${perThousand(downloadingCpu)} ms (${busy.toFixed(2)} cores busy)`,
        )
      }
      rssLines.push(
        `peak RSS (${pair.carrier} pair): serving ${mib(await rss(pair.server))}, downloading ${mib(await rss(pair.client))}`,
      )
    } finally {
      await stopPair([pair.server, pair.client])
    }
  }
  console.log('| data | via | rate (time) | × node:net | check |')
  console.log('| --- | --- | --- | --- | --- |')
  for (const line of rows) console.log(line)
  for (const line of rssLines) console.log(line)
  console.log(`peak RSS of the bench (node:net copies): ${mib(process.resourceUsage().maxRSS)}`)
} finally {
  await Promise.allSettled(procs.map((p) => p.stop(5000)))
  await broker.stop()
  await rm(root, { recursive: true, force: true })
}
