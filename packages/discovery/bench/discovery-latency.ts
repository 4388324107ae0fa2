// Time from the second peer's join() to verified announcements, p50 over 20 runs:
// through a local mosquitto, and through mDNS on loopback. Each is compared, in the same run,
// with the bare library doing the same exchange without any of our checks:
//   MQTT: a fresh mqtt.js client connects, subscribes and receives a retained message;
//   mDNS: a multicast-dns query answered by a responder that replies at once.
// Run: pnpm --filter @harddrive-party/discovery bench (under `flock /tmp/hdp-bench.lock`).
import {
  createMdnsDiscovery,
  createMqttDiscovery,
  type Discovery,
  type PeerFound,
} from '@harddrive-party/discovery'
import {
  createTestIdentity,
  startMosquitto,
  testTopicKeys,
} from '@harddrive-party/discovery/testing'
import type { TopicKeys } from '@harddrive-party/wire-protocol'
import { equalBytes } from '@harddrive-party/wire-protocol/internal'
import { connectAsync } from 'mqtt'
import makeMdns from 'multicast-dns'

const RUNS = 20
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms))

function found(d: Discovery, key: Uint8Array): Promise<number> {
  return new Promise((resolve) => {
    const on = (e: CustomEvent<PeerFound>) => {
      if (!equalBytes(e.detail.announcement.key, key)) return
      d.removeEventListener('peer', on)
      resolve(performance.now())
    }
    d.addEventListener('peer', on)
  })
}

interface Sample {
  /** The newcomer has verified the peer that was there. */
  newcomer: number
  /** Both sides have verified each other. */
  both: number
}

async function mqttRun(url: string, topic: TopicKeys): Promise<Sample> {
  const make = () => {
    const identity = createTestIdentity()
    const discovery = createMqttDiscovery({
      brokerUrl: url,
      identity,
      getAnnouncement: () => ({
        addresses: [{ host: '198.51.100.1', port: 4000, kind: 'public' }],
        nat: 'easy',
      }),
    })
    return { identity, discovery }
  }
  const a = make()
  const b = make()
  await a.discovery.start()
  await a.discovery.join(topic)
  // Let A's retained announcement land on the broker first.
  while (a.discovery.stats.rejected.own === 0) await sleep(5)
  await b.discovery.start()
  const bFindsA = found(b.discovery, a.identity.publicKey)
  const aFindsB = found(a.discovery, b.identity.publicKey)
  const t0 = performance.now()
  await b.discovery.join(topic)
  const [t1, t2] = await Promise.all([bFindsA, aFindsB])
  await Promise.all([a.discovery.stop(), b.discovery.stop()])
  return { newcomer: t1 - t0, both: Math.max(t1, t2) - t0 }
}

async function mqttBaseline(url: string): Promise<number> {
  const topic = `bench/${Math.random()}`
  const publisher = await connectAsync(url, { reconnectPeriod: 0 })
  await publisher.publishAsync(topic, Buffer.alloc(200, 1), { qos: 1, retain: true })
  const t0 = performance.now()
  const client = await connectAsync(url, { reconnectPeriod: 0 })
  const got = new Promise<number>((resolve) =>
    client.once('message', () => resolve(performance.now())),
  )
  await client.subscribeAsync(topic, { qos: 1 })
  const t1 = await got
  await publisher.publishAsync(topic, Buffer.alloc(0), { qos: 1, retain: true })
  await Promise.all([client.endAsync(), publisher.endAsync()])
  return t1 - t0
}

async function mdnsRun(topic: TopicKeys, mdnsPort: number): Promise<Sample> {
  const make = (port: number) => {
    const identity = createTestIdentity()
    const discovery = createMdnsDiscovery({ identity, interface: '127.0.0.1', port, mdnsPort })
    return { identity, discovery }
  }
  const a = make(4000)
  const b = make(4001)
  await a.discovery.start()
  await a.discovery.join(topic)
  // A's join announcements (at 0 and 1 s) are over, and more than the 1 s multicast limit
  // ago: B meets a LAN in its steady state.
  await sleep(2200)
  await b.discovery.start()
  const bFindsA = found(b.discovery, a.identity.publicKey)
  const aFindsB = found(a.discovery, b.identity.publicKey)
  const t0 = performance.now()
  await b.discovery.join(topic)
  const [t1, t2] = await Promise.all([bFindsA, aFindsB])
  await Promise.all([a.discovery.stop(), b.discovery.stop()])
  return { newcomer: t1 - t0, both: Math.max(t1, t2) - t0 }
}

async function mdnsBaseline(mdnsPort: number): Promise<number> {
  const options = { port: mdnsPort, interface: '127.0.0.1', bind: '0.0.0.0' }
  const responder = makeMdns(options)
  const querier = makeMdns(options)
  await Promise.all([responder, querier].map((m) => new Promise((r) => m.once('ready', r))))
  responder.on('query', (q) => {
    if (q.questions?.[0]?.name === '_bench._udp.local') {
      responder.respond([{ name: '_bench._udp.local', type: 'TXT', data: ['x=1'] }])
    }
  })
  const got = new Promise<number>((resolve) =>
    querier.on('response', (r) => {
      if (r.answers?.[0]?.name === '_bench._udp.local') resolve(performance.now())
    }),
  )
  const t0 = performance.now()
  querier.query([{ name: '_bench._udp.local', type: 'TXT' }])
  const t1 = await got
  await Promise.all([responder, querier].map((m) => new Promise<void>((r) => m.destroy(() => r()))))
  return t1 - t0
}

function stats(xs: number[]) {
  const s = [...xs].sort((a, b) => a - b)
  const at = (q: number) => s[Math.min(s.length - 1, Math.floor(q * s.length))]!
  return { p50: at(0.5), p90: at(0.9), min: s[0]!, max: s.at(-1)! }
}

const ms = (x: number) => `${x.toFixed(1)} ms`.padStart(10)

async function main() {
  const mosquitto = await startMosquitto()
  const rows: [string, number[], string][] = []
  try {
    const mq: Sample[] = []
    const mqBase: number[] = []
    for (let i = 0; i < RUNS; i++) {
      mq.push(await mqttRun(mosquitto.url, await testTopicKeys()))
      mqBase.push(await mqttBaseline(mosquitto.url))
    }
    rows.push(['MQTT (mosquitto): newcomer verifies the peer', mq.map((s) => s.newcomer), '< 1 s'])
    rows.push(['MQTT (mosquitto): both verified each other', mq.map((s) => s.both), '< 1 s'])
    rows.push(['  bare mqtt.js: connect, subscribe, retained msg', mqBase, ''])
    const md: Sample[] = []
    const mdBase: number[] = []
    for (let i = 0; i < RUNS; i++) {
      const port = 20_000 + Math.floor(Math.random() * 30_000)
      md.push(await mdnsRun(await testTopicKeys(), port))
      mdBase.push(await mdnsBaseline(port + 1))
    }
    rows.push(['mDNS (loopback): newcomer verifies the peer', md.map((s) => s.newcomer), '< 2 s'])
    rows.push(['mDNS (loopback): both verified each other', md.map((s) => s.both), '< 2 s'])
    rows.push(['  bare multicast-dns: query, instant answer', mdBase, ''])
  } finally {
    await mosquitto.stop()
  }
  const header = `${'from the second peer join() to …'.padEnd(50)}${'p50'.padStart(10)}${'p90'.padStart(10)}${'min'.padStart(10)}${'max'.padStart(10)}  goal`
  console.log(`\ndiscovery latency, ${RUNS} runs each (Node ${process.version})\n`)
  console.log(header)
  console.log('-'.repeat(header.length))
  for (const [name, xs, goal] of rows) {
    const s = stats(xs)
    console.log(`${name.padEnd(50)}${ms(s.p50)}${ms(s.p90)}${ms(s.min)}${ms(s.max)}  ${goal}`)
  }
}

await main()
