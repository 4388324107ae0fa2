import {
  type ConnectRequestFound,
  createMqttDiscovery,
  type MqttDiscovery,
} from '@harddrive-party/discovery'
import { createTestIdentity, testTopicKeys, waitForPeer } from '@harddrive-party/discovery/testing'
import { connectInbox } from '@harddrive-party/wire-protocol/internal'
import mqtt from 'mqtt'
import { afterEach, describe, expect, inject, it } from 'vitest'

// Connect requests ("punch now", docs/protocol.md §6.2) through a real mosquitto.
const cleanups: (() => Promise<unknown>)[] = []
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c().catch(() => undefined)
})
const hex = (b: Uint8Array) => Buffer.from(b).toString('hex')

function peer(brokerUrl: string): {
  discovery: MqttDiscovery
  key: Uint8Array
  got: ConnectRequestFound[]
} {
  const identity = createTestIdentity()
  const discovery = createMqttDiscovery({
    identity,
    brokerUrl,
    getAnnouncement: () => ({
      addresses: [
        { host: '198.51.100.7', port: 4000 + Math.floor(Math.random() * 1000), kind: 'public' },
      ],
      nat: 'easy',
    }),
  })
  const got: ConnectRequestFound[] = []
  discovery.addEventListener('connect', ({ detail }) => got.push(detail))
  cleanups.push(() => discovery.stop())
  return { discovery, key: identity.publicKey, got }
}

async function until(what: string, check: () => boolean, ms = 5000): Promise<void> {
  const end = Date.now() + ms
  while (!check()) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`)
    await new Promise((r) => setTimeout(r, 20))
  }
}

describe('connect requests over MQTT', () => {
  it("reach only their recipient, carry the sender's fresh addresses, and a replay is refused", async () => {
    const url = inject('mosquittoUrl')
    const topic = await testTopicKeys()
    const [a, b, c] = [peer(url), peer(url), peer(url)]
    for (const p of [a, b, c]) {
      await p.discovery.start()
      await p.discovery.join(topic)
    }
    await waitForPeer(a.discovery, (f) => hex(f.announcement.key) === hex(b.key))

    // A raw subscriber records the bytes on b's inbox, to replay them later.
    const raw = await mqtt.connectAsync(url, { protocolVersion: 4, reconnectPeriod: 0 })
    cleanups.push(() => raw.endAsync(true))
    const inboxTopic = `hdp/1/${topic.publicId}/${connectInbox(topic, b.key)}`
    const seen: Buffer[] = []
    raw.on('message', (_t, payload) => seen.push(payload))
    await raw.subscribeAsync(inboxTopic, { qos: 1 })

    expect(await a.discovery.requestConnect(topic, b.key)).toBe(true)
    await until('b got the request', () => b.got.length === 1)
    const { request } = b.got[0]!
    expect(hex(request.from)).toBe(hex(a.key))
    expect(hex(request.to)).toBe(hex(b.key))
    expect(request.nat).toBe('easy')
    expect(request.addresses[0]?.host).toBe('198.51.100.7')
    expect(b.got[0]!.topic.publicId).toBe(topic.publicId)
    await until('the raw copy', () => seen.length === 1)

    // Replaying the same bytes: refused, and counted.
    const replaysBefore = b.discovery.stats.rejected.replay
    await raw.publishAsync(inboxTopic, seen[0]!, { qos: 1 })
    await until('replay counted', () => b.discovery.stats.rejected.replay === replaysBefore + 1)
    expect(b.got).toHaveLength(1)
    // The same bytes on c's inbox do not open for c (bound to b's key).
    const sealsBefore = c.discovery.stats.rejected['bad-seal']
    await raw.publishAsync(`hdp/1/${topic.publicId}/${connectInbox(topic, c.key)}`, seen[0]!, {
      qos: 1,
    })
    await until('c refused it', () => c.discovery.stats.rejected['bad-seal'] === sealsBefore + 1)
    expect(c.got).toHaveLength(0)
    expect(a.got).toHaveLength(0)
  })

  it('resolves false on a topic that is not joined', async () => {
    const a = peer(inject('mosquittoUrl'))
    await a.discovery.start()
    expect(
      await a.discovery.requestConnect(await testTopicKeys(), new Uint8Array(32).fill(1)),
    ).toBe(false)
  })
})
