// Downloads through the whole node on loopback (two processes: the fixture peers), beside a
// plain node:net copy of the same bytes in the same run. Prints a table and peak RSS.
// Run: pnpm --filter @harddrive-party/peer-node bench   (BENCH_GIB=0.25 for a quicker run;
// BENCH_CPU_PROF=<dir>: both peers write a CPU profile there when they stop)
import { createHash, randomBytes } from 'node:crypto'
import { createReadStream, createWriteStream } from 'node:fs'
import { mkdir, mkdtemp, open, readdir, rm, stat, writeFile } from 'node:fs/promises'
import { connect, createServer } from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { pipeline } from 'node:stream/promises'
import { startMosquitto } from '@harddrive-party/discovery/testing'
import { peerName } from '@harddrive-party/peer-node'
import { LabProcess, tsNodeArgs } from '@harddrive-party/test-lab'

const GIB = Number(process.env.BENCH_GIB ?? 1)
const SMALL = Number(process.env.BENCH_SMALL ?? 10_000)
const PROFILE = process.env.BENCH_CPU_PROF
const fixture = join(import.meta.dirname, '../test/fixtures/download-peer.ts')
const root = await mkdtemp(join(tmpdir(), 'hdp-bench-downloads-'))
const broker = await startMosquitto()
const procs: LabProcess[] = []

async function sha256(path: string): Promise<string> {
  const hash = createHash('sha256')
  for await (const chunk of createReadStream(path)) hash.update(chunk as Buffer)
  return hash.digest('hex')
}

async function makeData(): Promise<{ big: string; small: string }> {
  const big = join(root, 'share', 'big')
  const small = join(root, 'share', 'small')
  await mkdir(big, { recursive: true })
  await mkdir(small, { recursive: true })
  const handle = await open(join(big, 'one.bin'), 'w')
  const block = randomBytes(1024 * 1024)
  for (let i = 0; i < GIB * 1024; i++) {
    block.writeUInt32BE(i, 0)
    await handle.write(block)
  }
  await handle.close()
  for (let i = 0; i < SMALL; i++) await writeFile(join(small, `f${i}.bin`), randomBytes(4096))
  return { big, small }
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

function start(dir: string, extra: string[]): LabProcess {
  const profile = PROFILE === undefined ? [] : ['--cpu-prof', '--cpu-prof-dir', PROFILE]
  const proc = new LabProcess(process.execPath, [
    ...profile,
    ...tsNodeArgs(),
    fixture,
    '--dir',
    dir,
    '--broker',
    broker.url,
    '--topic',
    'bench',
    ...extra,
  ])
  procs.push(proc)
  return proc
}

async function rss(proc: LabProcess): Promise<number> {
  const from = proc.lines.length
  proc.send('rss')
  return Number((await proc.waitForLine(/^rss /, { after: from, timeoutMs: 10_000 })).split(' ')[1])
}

try {
  const { big, small } = await makeData()
  const server = start(join(root, 'a'), ['--share', join(root, 'share')])
  const key = (await server.waitForLine(/^ready /, { timeoutMs: 120_000 })).split(' ')[1]!
  const downloads = join(root, 'downloads')
  const client = start(join(root, 'b'), ['--downloads', downloads])
  await client.waitForLine(`connect ${key}`, { timeoutMs: 60_000 })
  const landed = join(downloads, peerName(Buffer.from(key, 'hex')), 'share')
  const rows: string[] = []
  for (const [label, path, dir, files, bytes] of [
    [`${GIB} GiB file`, 'share/big', big, 1, GIB * 2 ** 30],
    [`${SMALL} files of 4 KiB`, 'share/small', small, SMALL, SMALL * 4096],
  ] as const) {
    const from = client.lines.length
    const began = performance.now()
    client.send(`download ${key} ${path}`)
    const id = (await client.waitForLine(/^added /, { after: from })).split(' ')[1]
    await client.waitForLine(`done ${id}`, { after: from, timeoutMs: 3_600_000 })
    const nodeMs = performance.now() - began
    const netMs = await netCopy(dir, join(root, 'net', label.replace(/ /g, '-')))
    const name = files === 1 ? 'one.bin' : 'f0.bin'
    const same =
      (await sha256(join(dir, name))) === (await sha256(join(landed, path.split('/')[1]!, name)))
    const rate = (ms: number) =>
      files === 1
        ? `${(((bytes / ms) * 1000) / 1e6).toFixed(0)} MB/s`
        : `${Math.round((files / ms) * 1000)} files/s`
    rows.push(
      `| ${label} | ${rate(nodeMs)} (${(nodeMs / 1000).toFixed(1)} s) | ${rate(netMs)} (${(netMs / 1000).toFixed(1)} s) | ${(netMs / nodeMs).toFixed(2)}x | ${same ? 'sha256 equal' : 'SHA256 DIFFERS'} |`,
    )
  }
  const mib = (n: number) => `${Math.round(n / 1024)} MiB`
  console.log('| data | through the node | plain node:net | node / net | check |')
  console.log('| --- | --- | --- | --- | --- |')
  for (const row of rows) console.log(row)
  console.log(
    `peak RSS: serving ${mib(await rss(server))}, downloading ${mib(await rss(client))}, bench (net copy) ${mib(process.resourceUsage().maxRSS)}`,
  )
} finally {
  if (PROFILE !== undefined) {
    // A profile is written on a clean exit only: ask the peers to stop.
    for (const p of procs) p.send('stop')
    await Promise.race([
      Promise.allSettled(procs.map((p) => p.exited)),
      new Promise((resolve) => setTimeout(resolve, 30_000)),
    ])
  }
  await Promise.allSettled(procs.map((p) => p.stop(5000)))
  await broker.stop()
  await rm(root, { recursive: true, force: true })
}
