// Stream layout decision, measured: how long does a small `ls`-like request take while a bulk
// download runs on the same peer connection, with
//   A. one Noise secret-stream per connection and this package's multiplexer (what we ship), vs
//   B. one UDX stream per request (ids signalled on a control stream), as the alternative design.
// B runs WITHOUT encryption (per-stream keys would only add work), so it is B's best case.
// Server side in a child process. Run: flock /tmp/hdp-bench.lock tsx ... bench/stream-layout.ts
import { spawn } from 'node:child_process'
import { once } from 'node:events'
import { createInterface } from 'node:readline'
import { fileURLToPath } from 'node:url'
import UDX from 'udx-native'

const BYTES = Number(process.env.BENCH_LAYOUT_BYTES ?? 256 * 2 ** 20)
const LS_EVERY_MS = 10
const CHUNK = new Uint8Array(64 * 1024).fill(7)
const LS_ANSWER = new Uint8Array(4096).fill(1)
const self = fileURLToPath(import.meta.url)

// ---- B: one UDX stream per request ----
// Control stream messages (text lines): `open <clientId>` -> server makes stream clientId+1,
// connects it, answers `ready <clientId>`; then the client connects and sends the request.

async function serverB(): Promise<void> {
  const udx = new UDX()
  const socket = udx.createSocket()
  socket.bind(0, '127.0.0.1')
  const control = udx.createStream(1)
  control.on('error', () => {}) // the client hangs up first at the end
  let clientPort = 0
  process.stdin.once('data', (d) => {
    clientPort = Number(d.toString().trim())
    control.connect(socket, 2, clientPort, '127.0.0.1')
  })
  let buffered = ''
  control.on('data', (data: Buffer) => {
    buffered += data.toString()
    for (let nl = buffered.indexOf('\n'); nl >= 0; nl = buffered.indexOf('\n')) {
      const [, id] = buffered.slice(0, nl).split(' ')
      buffered = buffered.slice(nl + 1)
      const stream = udx.createStream(Number(id) + 1)
      stream.connect(socket, Number(id), clientPort, '127.0.0.1')
      stream.on('error', () => {})
      stream.once('data', (request: Buffer) => {
        if (request[0] === 1) {
          let sent = 0
          const pump = () => {
            while (sent < BYTES) {
              sent += CHUNK.length
              if (!stream.write(CHUNK)) return void stream.once('drain', pump)
            }
            stream.end()
          }
          pump()
        } else {
          stream.write(LS_ANSWER)
          stream.end()
        }
      })
      control.write(Buffer.from(`ready ${id}\n`))
    }
  })
  console.log(`ready ${socket.address()!.port}`)
  await once(process.stdin, 'end')
  control.destroy()
  await socket.close()
}

async function clientB(serverPort: number, child: ReturnType<typeof spawn>) {
  const udx = new UDX()
  const socket = udx.createSocket()
  socket.bind(0, '127.0.0.1')
  const control = udx.createStream(2)
  control.on('error', () => {})
  control.connect(socket, 1, serverPort, '127.0.0.1')
  child.stdin!.write(`${socket.address()!.port}\n`)
  const waiting = new Map<number, () => void>()
  let buffered = ''
  control.on('data', (data: Buffer) => {
    buffered += data.toString()
    for (let nl = buffered.indexOf('\n'); nl >= 0; nl = buffered.indexOf('\n')) {
      const id = Number(buffered.slice(0, nl).split(' ')[1])
      buffered = buffered.slice(nl + 1)
      waiting.get(id)?.()
    }
  })
  let nextId = 10
  const open = async () => {
    const id = nextId
    nextId += 2
    const stream = udx.createStream(id)
    stream.on('error', () => {})
    const ready = new Promise<void>((resolve) => waiting.set(id, resolve))
    control.write(Buffer.from(`open ${id}\n`))
    await ready
    stream.connect(socket, id + 1, serverPort, '127.0.0.1')
    return stream
  }
  const request = async (op: number): Promise<number> => {
    const stream = await open()
    stream.write(Uint8Array.of(op))
    stream.end()
    let got = 0
    stream.on('data', (chunk: Buffer) => {
      got += chunk.length
    })
    await once(stream, 'end')
    return got
  }
  const result = await measure(request)
  control.destroy()
  await socket.close()
  return result
}

// ---- A: this package ----

async function clientA(port: number, key: string) {
  const { deriveTopicKeys } = await import('@harddrive-party/wire-protocol')
  const { createIdentity, createTransport } = await import('../src/index')
  const topic = await deriveTopicKeys('bench', { kdf: { N: 1024, r: 8, p: 1 } })
  const transport = createTransport({
    identity: createIdentity(),
    topics: () => [topic],
    host: '127.0.0.1',
  })
  await transport.start()
  const connection = await transport.dial({ host: '127.0.0.1', port }, Buffer.from(key, 'hex'), {
    topic,
    carriers: ['udx'],
  })
  const request = async (op: number): Promise<number> => {
    const stream = await connection.openStream()
    const head = new Uint8Array(9)
    head[0] = op === 1 ? 1 : 2
    new DataView(head.buffer).setBigUint64(1, BigInt(BYTES))
    await stream.write(head)
    await stream.end()
    let got = 0
    for await (const chunk of stream) got += chunk.length
    return got
  }
  const result = await measure(request)
  await transport.stop()
  return result
}

// ---- shared ----

async function measure(request: (op: number) => Promise<number>) {
  const idle: number[] = []
  for (let i = 0; i < 20; i++) {
    const t = performance.now()
    await request(2)
    idle.push(performance.now() - t)
  }
  const busy: number[] = []
  let done = false
  const start = performance.now()
  const bulk = request(1).then((n) => {
    done = true
    return n
  })
  while (!done) {
    const t = performance.now()
    await request(2)
    busy.push(performance.now() - t)
    await new Promise((r) => setTimeout(r, LS_EVERY_MS))
  }
  const received = await bulk
  const seconds = (performance.now() - start) / 1000
  if (received !== BYTES) throw new Error(`bulk moved ${received} of ${BYTES} bytes`)
  return { mbPerSecond: received / seconds / 1e6, idle: stats(idle), busy: stats(busy) }
}

function stats(samples: number[]) {
  const s = [...samples].sort((a, b) => a - b)
  const at = (p: number) => s[Math.min(s.length - 1, Math.floor(p * s.length))] ?? Number.NaN
  return { n: s.length, p50: at(0.5), p99: at(0.99), max: s.at(-1) ?? Number.NaN }
}

function child(args: string[]) {
  const p = spawn(
    process.execPath,
    ['--import', 'tsx', '--conditions=@harddrive-party/source', ...args],
    { stdio: ['pipe', 'pipe', 'inherit'] },
  )
  const lines = createInterface({ input: p.stdout! })
  const ready = new Promise<string[]>((resolve) =>
    lines.on('line', (l) => l.startsWith('ready ') && resolve(l.split(' ').slice(1))),
  )
  return { p, ready }
}

if (process.argv[2] === 'server-b') {
  await serverB()
} else {
  const rows: string[][] = []
  const f = (n: number) => n.toFixed(2)
  for (const layout of ['A', 'B'] as const) {
    const server =
      layout === 'A'
        ? child([fileURLToPath(new URL('./bench-server.ts', import.meta.url))])
        : child([self, 'server-b'])
    const ready = await server.ready
    const result =
      layout === 'A'
        ? await clientA(Number(ready[0]), ready[1]!)
        : await clientB(Number(ready[0]), server.p)
    server.p.stdin!.end()
    await once(server.p, 'exit')
    rows.push([
      layout === 'A'
        ? 'A: one secret-stream + multiplexer (shipped)'
        : 'B: one UDX stream per request, no crypto',
      result.mbPerSecond.toFixed(1),
      `${f(result.idle.p50)} / ${f(result.idle.p99)}`,
      `${f(result.busy.p50)} / ${f(result.busy.p99)} / ${f(result.busy.max)} (n=${result.busy.n})`,
    ])
  }
  const header = [
    `layout (${BYTES / 2 ** 20} MiB bulk + ls every ${LS_EVERY_MS} ms)`,
    'bulk MB/s',
    'ls ms idle p50 / p99',
    'ls ms during bulk p50 / p99 / max',
  ]
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i]!.length)))
  const line = (cells: string[]) => `| ${cells.map((c, i) => c.padEnd(widths[i]!)).join(' | ')} |`
  console.log(line(header))
  console.log(line(widths.map((w) => '-'.repeat(w))))
  for (const r of rows) console.log(line(r))
}
