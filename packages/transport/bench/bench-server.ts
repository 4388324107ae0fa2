// Server side of bench/transfer.ts, run as a child process so each side has its own core.
// Prints `ready <port> <public key hex> <plain tcp port> <raw udx port>`, then serves until
// stdin closes.
// Env: BENCH_HOST (default 127.0.0.1) is the address to listen on; BENCH_TRACE (a file) traces
// the UDX sender of a bare or bulk transfer (see traceSender; the bulk lane's when it has one).
// Requests on a stream: byte 0 = op (1: send N bytes, 2: an `ls`-sized answer), bytes 1-8 = N.
import { appendFileSync } from 'node:fs'
import { createServer } from 'node:net'
import { createInterface } from 'node:readline'
import { deriveTopicKeys } from '@harddrive-party/wire-protocol'
import NoiseSecretStream from '@hyperswarm/secret-stream'
import UDX from 'udx-native'
import type { PeerConnection } from '../src/connection'
import { createIdentity, createTransport, type TransportStream } from '../src/index'

const HOST = process.env.BENCH_HOST ?? '127.0.0.1'
const TRACE = process.env.BENCH_TRACE
const topic = await deriveTopicKeys('bench', { kdf: { N: 1024, r: 8, p: 1 } })
const transport = createTransport({
  identity: createIdentity(),
  topics: () => [topic],
  host: HOST,
})
await transport.start()
const CHUNK = new Uint8Array(64 * 1024).fill(7)
const LS_ANSWER = new Uint8Array(4096).fill(1)

/** CPU use of the last bulk send (user+system over wall time), for the orchestrator. */
let lastBulk = { cpuPercent: 0 }
function measure<T>(work: () => Promise<T>): Promise<T> {
  const cpu = process.cpuUsage()
  const start = performance.now()
  return work().finally(() => {
    const used = process.cpuUsage(cpu)
    lastBulk = {
      cpuPercent: ((used.user + used.system) / 1000 / (performance.now() - start)) * 100,
    }
  })
}

async function serve(stream: TransportStream, connection: PeerConnection): Promise<void> {
  const head: number[] = []
  for await (const chunk of stream) for (const b of chunk) head.push(b)
  const op = head[0]
  const n = Number(new DataView(Uint8Array.from(head).buffer).getBigUint64(1))
  if (op === 1) {
    // The carrier under the bulk stream: the bulk lane when it has one (it exists by now).
    const carrier = connection.lanes.current ?? connection
    const raw = carrier.udxStream
    if (TRACE !== undefined && raw !== undefined) {
      traceSender(raw, TRACE, () => carrier.stats().largestWindowBytes)
    }
    await measure(async () => {
      for (let sent = 0; sent < n; sent += CHUNK.length) {
        await stream.write(CHUNK.subarray(0, Math.min(CHUNK.length, n - sent)))
      }
      await stream.end()
    })
    return
  } else {
    await stream.write(LS_ANSWER)
  }
  await stream.end()
}

transport.addEventListener('connection', async (event) => {
  for await (const stream of event.detail.incomingStreams())
    serve(stream, event.detail as PeerConnection).catch(() => stream.abort())
})

const plain = createServer({ noDelay: true }, (socket) => {
  socket.once('data', (d) => {
    const n = Number(new DataView(d.buffer, d.byteOffset, 8).getBigUint64(0))
    void measure(
      () =>
        new Promise<void>((resolve) => {
          let sent = 0
          const pump = () => {
            while (sent < n) {
              sent += CHUNK.length
              if (!socket.write(CHUNK)) return socket.once('drain', pump)
            }
            socket.end(resolve)
          }
          pump()
        }),
    )
  })
  socket.on('error', () => {})
})
await new Promise<void>((r) => plain.listen(0, HOST, r))
const plainPort = (plain.address() as { port: number }).port

// Baseline without the multiplexer: one secret-stream straight on a UDX stream. The client's
// first datagram (`<n> <its stream id>`) says how many bytes it wants.
const udx = new UDX()
const rawSocket = udx.createSocket()
rawSocket.bind(0, HOST)
const rawStreams = new Set<UDX.Stream>()
let nextRawId = 2
const rawAskers = new Set<string>()
rawSocket.on('message', (message, from) => {
  // Stray UDX packets (a closed stream's last ones, first byte 0xff) land here too: only a
  // request of the form `<n> <stream id>` starts a transfer.
  const match = /^(\d+) (\d+)$/.exec(message.toString())
  if (match === null) return
  const [n, id] = [Number(match[1]), Number(match[2])]
  // The client asks again until it hears `go` (either may be lost): one stream per asker.
  const asker = `${from.host}:${from.port}:${id}`
  if (rawAskers.has(asker)) return void rawSocket.trySend(Buffer.from('go'), from.port, from.host)
  rawAskers.add(asker)
  const raw = udx.createStream(nextRawId)
  nextRawId += 2
  rawStreams.add(raw)
  raw.once('close', () => rawStreams.delete(raw))
  raw.on('error', () => {})
  raw.connect(rawSocket, id, from.port, from.host)
  const noise = new NoiseSecretStream(false, raw)
  noise.on('error', () => {})
  if (TRACE !== undefined) traceSender(raw, TRACE)
  rawSocket.trySend(Buffer.from('go'), from.port, from.host)
  void measure(
    () =>
      new Promise<void>((resolve) => {
        let sent = 0
        const pump = () => {
          while (sent < n) {
            sent += CHUNK.length
            if (!noise.write(CHUNK)) return void noise.once('drain', pump)
          }
          noise.end()
          noise.once('close', () => resolve())
        }
        pump()
      }),
  )
})

/**
 * BENCH_TRACE=file: libudx's view of the bare sender every 100 ms (one JSON line each), to see
 * its congestion control (cwnd, BBR state and estimate, RTT, resends) over a transfer.
 */
function traceSender(raw: UDX.Stream, file: string, window?: () => number): void {
  const t0 = performance.now()
  const timer = setInterval(() => {
    const row = {
      t: Math.round(performance.now() - t0),
      rtt: raw.rtt,
      cwnd: raw.cwnd,
      inflight: raw.inflight,
      mtu: raw.mtu,
      bbrState: raw.bbrState,
      bbrBandwidth: raw.bbrBandwidth,
      retransmits: raw.retransmits,
      rtoCount: raw.rtoCount,
      fastRecoveries: raw.fastRecoveries,
      packets: raw.packetsTransmitted,
      bytes: raw.bytesTransmitted,
      ...(window !== undefined && { window: window() }),
    }
    appendFileSync(file, `${JSON.stringify(row)}\n`)
  }, 100)
  raw.once('close', () => clearInterval(timer))
}

createInterface({ input: process.stdin })
  .on('line', (line) => {
    if (line === 'stats') {
      const cpu = process.cpuUsage()
      console.log(
        `stats ${JSON.stringify({
          ...lastBulk,
          maxRssKiB: process.resourceUsage().maxRSS,
          cpuTotalMs: (cpu.user + cpu.system) / 1000,
        })}`,
      )
    }
  })
  .on('close', async () => {
    plain.close()
    for (const raw of rawStreams) raw.destroy()
    await rawSocket.close()
    await transport.stop()
  })
console.log(
  `ready ${transport.address().port} ${Buffer.from(transport.publicKey).toString('hex')} ${plainPort} ${rawSocket.address()!.port}`,
)
