import { fileURLToPath } from 'node:url'
import {
  type AnnouncementInput,
  type CreateLogger,
  createMqttDiscovery,
  DEFAULT_BROKER_URL,
  type DiscoveryStatus,
  type MqttDiscovery,
  type MqttDiscoveryOptions,
} from '@harddrive-party/discovery'
import {
  byKey,
  createTestIdentity,
  freeTcpPort,
  testTopicKeys,
  waitForGone,
  waitForPeer,
} from '@harddrive-party/discovery/testing'
import { spawnNode } from '@harddrive-party/test-lab'
import { afterEach, describe, expect, it } from 'vitest'
import { BROKER_KINDS, sharedBroker, startOpenAedes, startTestBroker } from './helpers/brokers'

const bytesToHex = (b: Uint8Array) => Buffer.from(b).toString('hex')
const fixture = fileURLToPath(new URL('./fixtures/mqtt-peer.ts', import.meta.url))
const FAST_RECONNECT = { initialDelayMs: 100, maxDelayMs: 800 }

const cleanups: (() => Promise<unknown>)[] = []
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c().catch(() => undefined)
})

function makePeer(options: Partial<MqttDiscoveryOptions> & { brokerUrl: string }) {
  const identity = createTestIdentity()
  let announcement: AnnouncementInput = {
    addresses: [{ host: '198.51.100.7', port: 4000, kind: 'public' }],
    nat: 'easy',
  }
  const discovery = createMqttDiscovery({
    identity,
    getAnnouncement: () => announcement,
    reconnect: FAST_RECONNECT,
    ...options,
  })
  cleanups.push(() => discovery.stop())
  return {
    discovery,
    identity,
    set(next: AnnouncementInput) {
      announcement = next
    },
  }
}

function statusEvents(discovery: MqttDiscovery): DiscoveryStatus[] {
  const out: DiscoveryStatus[] = []
  discovery.addEventListener('status', (e) => out.push(e.detail))
  return out
}

async function until(check: () => boolean, timeoutMs = 10_000, what = 'condition'): Promise<void> {
  const deadline = Date.now() + timeoutMs
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`)
    await new Promise((r) => setTimeout(r, 20))
  }
}

describe.each(BROKER_KINDS)('MQTT discovery through %s', (kind) => {
  it('emits one event per change of the announcement, none for refreshes', async () => {
    const broker = await sharedBroker(kind)
    cleanups.push(() => broker.stop())
    const topic = await testTopicKeys()
    const a = makePeer({ brokerUrl: broker.url })
    const b = makePeer({ brokerUrl: broker.url })
    const events: string[] = []
    a.discovery.addEventListener('peer', (e) => {
      events.push(e.detail.announcement.addresses.map((x) => `${x.host}:${x.port}`).join(','))
    })
    await a.discovery.start()
    await b.discovery.start()
    await a.discovery.join(topic)
    await b.discovery.join(topic)
    await waitForPeer(a.discovery, byKey(b.identity.publicKey))
    await b.discovery.announce()
    await until(() => a.discovery.stats.refreshed >= 1, 5000, 'a refresh')
    b.set({ addresses: [{ host: '198.51.100.7', port: 4001, kind: 'public' }], nat: 'hard' })
    await b.discovery.announce()
    await waitForPeer(a.discovery, (p) => p.announcement.nat === 'hard')
    expect(events).toEqual(['198.51.100.7:4000', '198.51.100.7:4001'])
    expect(a.discovery.stats.accepted).toBe(2)
  })

  it('finds peers again after the broker is killed and restarted, without restarting them', async () => {
    const broker = await startTestBroker(kind)
    cleanups.push(() => broker.stop())
    const topic = await testTopicKeys()
    const a = makePeer({ brokerUrl: broker.url })
    const b = makePeer({ brokerUrl: broker.url })
    const aStatus = statusEvents(a.discovery)
    await a.discovery.start()
    await b.discovery.start()
    await a.discovery.join(topic)
    await b.discovery.join(topic)
    await waitForPeer(a.discovery, byKey(b.identity.publicKey))
    await waitForPeer(b.discovery, byKey(a.identity.publicKey))

    await broker.kill()
    await until(() => aStatus.at(-1)?.state === 'offline', 10_000, 'a to go offline')
    const receivedBefore = a.discovery.stats.received
    await broker.restart()
    await until(() => aStatus.at(-1)?.state === 'online', 10_000, 'a to come back')

    // The restarted broker kept nothing (no persistence): C can only find A and B if they
    // re-published after reconnecting, and A only hears C if it re-subscribed.
    const c = makePeer({ brokerUrl: broker.url })
    await c.discovery.start()
    await c.discovery.join(topic)
    await waitForPeer(c.discovery, byKey(a.identity.publicKey))
    await waitForPeer(c.discovery, byKey(b.identity.publicKey))
    await waitForPeer(a.discovery, byKey(c.identity.publicKey))
    // A also heard B's fresh announcement again after the restart (unchanged: no new event).
    await until(() => a.discovery.stats.received > receivedBefore + 1, 5000, 'B re-announced')
    expect(aStatus.map((s) => s.state)).toEqual(['online', 'offline', 'online'])
  })

  it('a crashed peer is reported gone through its last will', async () => {
    const broker = await sharedBroker(kind)
    cleanups.push(() => broker.stop())
    const topicName = `crash ${Math.random()}`
    const topic = await testTopicKeys(topicName)
    const a = makePeer({ brokerUrl: broker.url })
    await a.discovery.start()
    await a.discovery.join(topic)
    const child = spawnNode(fixture, [broker.url, topicName])
    cleanups.push(() => child.stop())
    const line = await child.waitForLine(/^ready [0-9a-f]{64}$/, { timeoutMs: 20_000 })
    const key = line.slice('ready '.length)
    await waitForPeer(a.discovery, (p) => bytesToHex(p.announcement.key) === key)
    const gone = waitForGone(a.discovery, (g) => bytesToHex(g.key) === key)
    child.kill('SIGKILL')
    expect(await gone).toMatchObject({ via: 'mqtt', reason: 'cleared', topic })
    // The will cleared the retained message: a newcomer does not hear of the dead peer.
    const late = makePeer({ brokerUrl: broker.url })
    await late.discovery.start()
    await late.discovery.join(topic)
    await waitForPeer(late.discovery, byKey(a.identity.publicKey))
    expect(late.discovery.knownPeers().map((p) => bytesToHex(p.announcement.key))).toEqual([
      bytesToHex(a.identity.publicKey),
    ])
  })
})

describe('MQTT discovery', () => {
  it('keeps retrying an unreachable broker with backoff (one topic probes for all), says so once, and recovers', async () => {
    const port = await freeTcpPort()
    const lines: string[] = []
    const logger: CreateLogger = () =>
      Object.assign(() => undefined, {
        error: (f: string) => lines.push(f),
        trace: () => undefined,
      })
    const topics = await Promise.all([testTopicKeys(), testTopicKeys(), testTopicKeys()])
    const a = makePeer({ brokerUrl: `mqtt://127.0.0.1:${port}`, logger })
    const status = statusEvents(a.discovery)
    await a.discovery.start()
    for (const t of topics) await a.discovery.join(t)
    await until(() => a.discovery.connectionAttempts() >= 7, 10_000, 'seven attempts')
    expect(status.map((s) => s.state)).toEqual(['offline'])
    expect(lines.filter((l) => l.includes('unreachable'))).toHaveLength(1)
    // After its first try, only one topic's connection keeps knocking.
    const perTopic = topics.map((t) => a.discovery.connectionAttempts(t)).sort((x, y) => x - y)
    expect(perTopic.slice(0, 2)).toEqual([1, 1])
    expect(perTopic[2]).toBeGreaterThanOrEqual(5)

    const broker = await startOpenAedes(port)
    cleanups.push(() => broker.stop())
    const b = makePeer({ brokerUrl: broker.url })
    await b.discovery.start()
    for (const t of topics) await b.discovery.join(t)
    for (const t of topics) {
      await waitForPeer(a.discovery, (p) => p.topic === t && byKey(b.identity.publicKey)(p))
    }
    expect(status.map((s) => s.state)).toEqual(['offline', 'online'])
  })

  it('defaults to the public broker of the original without connecting at creation', () => {
    const d = createMqttDiscovery({
      identity: createTestIdentity(),
      getAnnouncement: () => ({ addresses: [], nat: 'unknown' }),
    })
    expect(d.brokerUrl).toBe(DEFAULT_BROKER_URL)
    expect(DEFAULT_BROKER_URL).toBe('mqtt://broker.hivemq.com:1883')
    expect(d.connectionAttempts()).toBe(0)
  })

  it('speaks MQTT 5 when asked (mosquitto), where the broker spares us our own messages', async () => {
    const broker = await sharedBroker('mosquitto')
    const topic = await testTopicKeys()
    const a = makePeer({ brokerUrl: broker.url, protocolVersion: 5 })
    const b = makePeer({ brokerUrl: broker.url, protocolVersion: 5 })
    const old = makePeer({ brokerUrl: broker.url, protocolVersion: 4 })
    for (const p of [a, b, old]) await p.discovery.start()
    for (const p of [a, b, old]) await p.discovery.join(topic)
    await waitForPeer(a.discovery, byKey(b.identity.publicKey))
    await waitForPeer(a.discovery, byKey(old.identity.publicKey))
    await waitForPeer(old.discovery, byKey(a.identity.publicKey))
    await a.discovery.announce()
    await old.discovery.announce()
    await until(() => old.discovery.stats.rejected.own >= 2, 5000, 'own echoes on 3.1.1')
    expect(a.discovery.stats.rejected.own).toBe(0)
  })

  it('rejects bad options and a bad announcement with typed errors', async () => {
    const identity = createTestIdentity()
    const getAnnouncement = () => ({ addresses: [], nat: 'unknown' as const })
    expect(() =>
      createMqttDiscovery({ identity, getAnnouncement, brokerUrl: 'http://example.org' }),
    ).toThrow(expect.objectContaining({ name: 'DiscoveryError', code: 'INVALID_OPTIONS' }))
    expect(() =>
      createMqttDiscovery({
        identity: { publicKey: identity.publicKey, secretKey: identity.publicKey },
        getAnnouncement,
      }),
    ).toThrow(expect.objectContaining({ code: 'INVALID_OPTIONS' }))
    expect(() =>
      createMqttDiscovery({
        identity,
        getAnnouncement,
        announceIntervalMs: 60_000,
        maxAnnouncementAgeMs: 60_000,
      }),
    ).toThrow(expect.objectContaining({ code: 'INVALID_OPTIONS' }))
    const bad = createMqttDiscovery({
      identity,
      brokerUrl: 'mqtt://127.0.0.1:1',
      getAnnouncement: () => ({
        addresses: [{ host: 'not an ip', port: 1, kind: 'public' }],
        nat: 'open',
      }),
    })
    await expect(bad.join(await testTopicKeys())).rejects.toMatchObject({
      name: 'DiscoveryError',
      code: 'BAD_ANNOUNCEMENT',
    })
    const throwing = createMqttDiscovery({
      identity,
      brokerUrl: 'mqtt://127.0.0.1:1',
      getAnnouncement: () => {
        throw new Error('no address yet')
      },
    })
    const err = await throwing.join(await testTopicKeys()).catch((e: unknown) => e)
    expect(err).toMatchObject({ code: 'BAD_ANNOUNCEMENT', cause: { message: 'no address yet' } })
    expect(bad.topics()).toEqual([])
  })
})
