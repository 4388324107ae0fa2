// Client side of bench/transfer.ts: downloads `bytes` from the bench server over one carrier
// ('udx' | 'tcp' through the transport, or 'plain' TCP) while timing small `ls`-like requests
// on the same connection. Prints one `result {json}` line.
// Env: BENCH_HOST (default 127.0.0.1): the server's address; BENCH_SECONDS: stop after this
// long and report what arrived (for slow links); the transfer's stream has the bulk option, as
// peer-node's big reads do (on UDX the bulk lane, docs/transport.md §3.2), BENCH_BULK=0 opens it
// on the connection; mode 'rtt' times TCP connects instead.
import { once } from 'node:events'
import { connect } from 'node:net'
import { deriveTopicKeys } from '@harddrive-party/wire-protocol'
import NoiseSecretStream from '@hyperswarm/secret-stream'
import UDX from 'udx-native'
import { type Connection, createIdentity, createTransport } from '../src/index'

const [mode, portText, keyHex, plainPortText, bytesText, rawPortText] = process.argv.slice(2)
const bytes = Number(bytesText)
const LS_EVERY_MS = 10
/** `ls` requests timed on the idle connection before the transfer (BENCH_IDLE_LS, default 50). */
const IDLE_LS = Number(process.env.BENCH_IDLE_LS ?? 50)
const HOST = process.env.BENCH_HOST ?? '127.0.0.1'
const SECONDS = Number(process.env.BENCH_SECONDS ?? 0)
/** Resolves after BENCH_SECONDS (never when it is not set). */
const deadline = () =>
  new Promise<void>((resolve) => {
    if (SECONDS > 0) setTimeout(resolve, SECONDS * 1000).unref()
  })

function request(op: number, n: number): Uint8Array {
  const out = new Uint8Array(9)
  out[0] = op
  new DataView(out.buffer).setBigUint64(1, BigInt(n))
  return out
}

async function ls(connection: Connection): Promise<number> {
  const start = performance.now()
  const stream = await connection.openStream()
  await stream.write(request(2, 0))
  await stream.end()
  let got = 0
  for await (const chunk of stream) got += chunk.length
  if (got !== 4096) throw new Error(`ls answer of ${got} bytes`)
  return performance.now() - start
}

function percentile(sorted: number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))] ?? Number.NaN
}

async function plain(): Promise<number> {
  return new Promise((resolve, reject) => {
    const socket = connect({ port: Number(plainPortText), host: HOST, noDelay: true })
    let got = 0
    void deadline().then(() => {
      socket.destroy()
      resolve(got)
    })
    socket.on('connect', () => socket.write(request(0, bytes).subarray(1)))
    socket.on('data', (d) => {
      got += d.length
      progress.bytes += d.length
    })
    socket.on('end', () => resolve(got))
    socket.on('error', reject)
  })
}

/** Baseline: one secret-stream straight on a UDX stream, no multiplexer, no `ls`. */
async function rawUdx(): Promise<number> {
  const udx = new UDX()
  const socket = udx.createSocket()
  socket.bind(0, '0.0.0.0')
  const raw = udx.createStream(1)
  const go = once(socket, 'message')
  // The request or the answer may be lost on a lossy link: ask again until the server answers.
  const ask = () => socket.trySend(Buffer.from(`${bytes} 1`), Number(rawPortText), HOST)
  ask()
  const again = setInterval(ask, 250)
  await go
  clearInterval(again)
  raw.connect(socket, 2, Number(rawPortText), HOST)
  const noise = new NoiseSecretStream(true, raw)
  noise.on('error', () => {})
  let got = 0
  noise.on('data', (d: Uint8Array) => {
    got += d.length
    progress.bytes += d.length
  })
  await Promise.race([once(noise, 'end'), deadline()])
  noise.end()
  if (got < bytes) noise.destroy()
  await once(noise, 'close')
  await socket.close()
  return got
}

let received = 0
/**
 * Bytes received so far, sampled every 250 ms of the transfer ([ms, bytes]): the rate after
 * the congestion controller's ramp is the link's fill, apart from how long the ramp took.
 */
const progress = { bytes: 0, samples: [] as Array<[number, number]> }
function trackProgress(t0 = performance.now()): () => void {
  const timer = setInterval(() => {
    progress.samples.push([Math.round(performance.now() - t0), progress.bytes])
  }, 250)
  return () => clearInterval(timer)
}
let idle: number[] = []
let busy: number[] = []
/** When each busy sample started (ms after the transfer began) and what it took. */
const busyTimeline: Array<[number, number]> = []
const cpu = process.cpuUsage()
let start = performance.now()
let seconds = 0
let stats: unknown
if (mode === 'rtt') {
  // One TCP connect is one round trip (SYN, SYN-ACK): the link's RTT without any queue.
  for (let i = 0; i < 10; i++) {
    const t = performance.now()
    const socket = connect({ port: Number(plainPortText), host: HOST })
    await once(socket, 'connect')
    idle.push(performance.now() - t)
    socket.destroy()
  }
} else if (mode === 'plain') {
  start = performance.now()
  const stop = trackProgress()
  received = await plain()
  stop()
  seconds = (performance.now() - start) / 1000
} else if (mode === 'raw-udx') {
  start = performance.now()
  const stop = trackProgress()
  received = await rawUdx()
  stop()
  seconds = (performance.now() - start) / 1000
} else {
  const topic = await deriveTopicKeys('bench', { kdf: { N: 1024, r: 8, p: 1 } })
  const transport = createTransport({
    identity: createIdentity(),
    topics: () => [topic],
    host: '0.0.0.0',
  })
  await transport.start()
  const connection = await transport.dial(
    { host: HOST, port: Number(portText) },
    Buffer.from(keyHex!, 'hex'),
    { topic, carriers: [mode as 'udx' | 'tcp'] },
  )
  for (let i = 0; i < IDLE_LS; i++) idle.push(await ls(connection))
  // The transfer's clock starts before the stream opens: a bulk lane's set-up counts.
  const t0 = performance.now()
  // On the bulk lane as peer-node's big reads; BENCH_BULK=0 (HDP_BULK_LANE=0): on the connection.
  const bulk = await connection.openStream({ bulk: process.env.BENCH_BULK !== '0' })
  await bulk.write(request(1, bytes))
  await bulk.end()
  let done = false
  const sampler = (async () => {
    while (!done) {
      const t = performance.now()
      const ms = await ls(connection)
      busy.push(ms)
      busyTimeline.push([Math.round(t - t0), Math.round(ms)])
      await new Promise((r) => setTimeout(r, Math.max(0, LS_EVERY_MS - (performance.now() - t))))
    }
  })()
  start = t0
  const stop = trackProgress(t0)
  let late = false
  void deadline().then(() => {
    late = true
  })
  for await (const chunk of bulk) {
    received += chunk.length
    progress.bytes += chunk.length
    if (late) break
  }
  seconds = (performance.now() - start) / 1000
  stop()
  // The bulk stream's carrier: the lane's figures when it ran on one.
  const all = connection.stats()
  stats = { ...(all.bulkLane?.current ?? all), lanes: all.bulkLane?.opened ?? 0 }
  done = true
  await sampler
  await transport.stop()
}
const used = process.cpuUsage(cpu)
idle = idle.sort((a, b) => a - b)
busy = busy.sort((a, b) => a - b)
console.log(
  `result ${JSON.stringify({
    mode,
    received,
    seconds,
    mbPerSecond: received / seconds / 1e6,
    cpuPercent: ((used.user + used.system) / 1000 / (seconds * 1000)) * 100,
    maxRssKiB: process.resourceUsage().maxRSS,
    stats,
    lsIdle: { n: idle.length, p50: percentile(idle, 50), p99: percentile(idle, 99) },
    lsBusy: {
      n: busy.length,
      p50: percentile(busy, 50),
      p99: percentile(busy, 99),
      max: busy.at(-1),
    },
    progress: progress.samples,
    slowest: busyTimeline.sort((a, b) => b[1] - a[1]).slice(0, 5),
  })}`,
)
