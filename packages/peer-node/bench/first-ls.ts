// From the second peer's start() to its first successful remote `ls` (issue 11's benchmark), on
// loopback: via mDNS only, and via a local mosquitto only. Each beside the bare discovery step in
// the same run: a lone discovery instance's start() to its first verified announcement of the
// peer that is already there. Both sides derive the topic keys with the real (default) KDF, as a
// person's peer does. As root, a third row: across easy <-> hard NATs in the NAT lab, beside bare
// transport + holepunch + MQTT discovery (bench/first-ls-lab.ts).
// Run: pnpm --filter @harddrive-party/peer-node bench:first-ls (one benchmark at a time).
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises'
import { loadavg as osLoadavg, tmpdir } from 'node:os'
import { join } from 'node:path'
import {
  createMdnsDiscovery,
  createMqttDiscovery,
  type Discovery,
  type PeerFound,
} from '@harddrive-party/discovery'
import { createTestIdentity, startMosquitto } from '@harddrive-party/discovery/testing'
import { createPeerNode, type PeerNode, type PeerNodeOptions } from '@harddrive-party/peer-node'
import { deriveTopicKeys } from '@harddrive-party/wire-protocol'
import { equalBytes } from '@harddrive-party/wire-protocol/internal'
import { easyHardRow } from './first-ls-lab'

const RUNS = Number(process.env.HDP_BENCH_RUNS ?? 10)
const TOPIC = `first-ls bench ${process.pid}`

const base = await mkdtemp(join(tmpdir(), 'hdp-bench-first-ls-'))
let dirCount = 0
async function freshDir(): Promise<string> {
  const dir = join(base, String(dirCount++))
  await mkdir(dir, { recursive: true })
  return dir
}

const loadavg = () =>
  osLoadavg()
    .map((l) => l.toFixed(1))
    .join(' ')

function p50(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b)
  return s[Math.floor((s.length - 1) / 2)]!
}
function max(xs: number[]): number {
  return Math.max(...xs)
}

type Via = 'mqtt' | 'mdns'

function options(via: Via, brokerUrl: string, mdnsPort: number, dir: string): PeerNodeOptions {
  return {
    storageDir: dir,
    host: '127.0.0.1',
    stunServers: [],
    lanAddresses: ['127.0.0.1'],
    mqtt: via === 'mqtt' ? { brokerUrl } : false,
    mdns: via === 'mdns' ? { interface: '127.0.0.1', mdnsPort } : false,
  }
}

/** The peer that is already on the topic, sharing one folder. */
async function startFirst(via: Via, brokerUrl: string, mdnsPort: number): Promise<PeerNode> {
  const dir = await freshDir()
  const share = join(dir, 'films')
  await mkdir(share)
  await writeFile(join(share, 'a.mkv'), 'x')
  const node = createPeerNode(options(via, brokerUrl, mdnsPort, join(dir, 'storage')))
  await node.start()
  await node.store.shares.add(share)
  await node.store.rescan()
  await node.join(TOPIC)
  return node
}

/** start() of a fresh second node to its first remote ls page from the first node, in ms. */
async function nodeRun(via: Via, first: PeerNode, brokerUrl: string, mdnsPort: number) {
  const node = createPeerNode(options(via, brokerUrl, mdnsPort, await freshDir()))
  const firstHex = Buffer.from(first.publicKey).toString('hex')
  const t0 = performance.now()
  const connected = new Promise<void>((resolve) => {
    const on = ({ detail }: CustomEvent<{ peer: { hex: string } }>) => {
      if (detail.peer.hex !== firstHex) return
      node.removeEventListener('peer:connect', on)
      resolve()
    }
    node.addEventListener('peer:connect', on)
  })
  await node.start()
  await node.join(TOPIC)
  await connected
  for await (const entry of node.client(firstHex).ls('')) {
    if (entry.path !== 'films') throw new Error(`unexpected entry ${entry.path}`)
    break
  }
  const ms = performance.now() - t0
  await node.stop()
  return ms
}

/** The bare discovery step: a fresh discovery's start() to the first verified announcement. */
async function discoveryRun(via: Via, first: PeerNode, brokerUrl: string, mdnsPort: number) {
  const identity = createTestIdentity()
  const getAnnouncement = () => ({
    addresses: [{ host: '127.0.0.1', port: 40_000 + dirCount, kind: 'lan' as const }],
    nat: 'unknown' as const,
  })
  const discovery: Discovery =
    via === 'mqtt'
      ? createMqttDiscovery({ brokerUrl, identity, getAnnouncement })
      : createMdnsDiscovery({
          identity,
          interface: '127.0.0.1',
          port: 40_000 + dirCount,
          mdnsPort,
        })
  const t0 = performance.now()
  const found = new Promise<void>((resolve) => {
    const on = (e: CustomEvent<PeerFound>) => {
      if (!equalBytes(e.detail.announcement.key, first.publicKey)) return
      discovery.removeEventListener('peer', on)
      resolve()
    }
    discovery.addEventListener('peer', on)
  })
  await discovery.start()
  await discovery.join(await deriveTopicKeys(TOPIC))
  await found
  const ms = performance.now() - t0
  await discovery.stop()
  return ms
}

const broker = await startMosquitto()
const mdnsPort = 20_000 + Math.floor(Math.random() * 30_000)
console.log(
  `first remote ls after start(), ${RUNS} runs per row, real topic KDF (load ${loadavg()})`,
)
console.log('via          node p50   node max   bare discovery p50   bare max   goal')
function printRow(via: string, nodeMs: number[], bareMs: number[], goal: string): void {
  const ms = (xs: number[], f: (xs: number[]) => number, width: number) =>
    (xs.length ? `${f(xs).toFixed(0)} ms` : '-').padStart(width)
  const row = [
    via.padEnd(10),
    ms(nodeMs, p50, 10),
    ms(nodeMs, max, 10),
    ms(bareMs, p50, 20),
    ms(bareMs, max, 10),
    `   ${goal}`,
  ]
  console.log(row.join(' '))
}
try {
  for (const via of ['mdns', 'mqtt'] as const) {
    const first = await startFirst(via, broker.url, mdnsPort)
    const nodeMs: number[] = []
    const bareMs: number[] = []
    for (let i = 0; i < RUNS; i++) {
      // Interleaved, so load on the machine hits both columns alike.
      bareMs.push(await discoveryRun(via, first, broker.url, mdnsPort))
      nodeMs.push(await nodeRun(via, first, broker.url, mdnsPort))
    }
    await first.stop()
    printRow(via, nodeMs, bareMs, via === 'mdns' ? '< 1000 ms' : '< 2000 ms')
  }
  // Across NATs the bare step is discovery + NAT detection + punch + dial (no ls: no peer-node).
  const lab = await easyHardRow(RUNS)
  if (lab) {
    printRow('easy-hard', lab.nodeMs, lab.bareMs, '< 4000 ms')
    const used = Object.entries(lab.techniques).map(([t, n]) => `${t} ×${n}`)
    console.log(`easy-hard: ${used.join(', ')}; failed runs ${lab.failures.length}`)
    for (const f of lab.failures) console.log(`  ${f}`)
  }
  console.log(`load average at the end: ${loadavg()}`)
} finally {
  await broker.stop()
  await rm(base, { recursive: true, force: true })
}
