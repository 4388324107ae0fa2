import { createServer, type Server, type Socket } from 'node:net'
import { createEmbeddedBroker, createMqttDiscovery } from '@harddrive-party/discovery'
import {
  byKey,
  createTestIdentity,
  MQTT_TOPIC_ROOT,
  testTopicKeys,
  topicFilter,
  waitForPeer,
} from '@harddrive-party/discovery/testing'
import { Aedes } from 'aedes'
import { connectAsync, type MqttClient } from 'mqtt'
import { afterEach, describe, expect, it } from 'vitest'

const cleanups: (() => Promise<unknown>)[] = []
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c().catch(() => undefined)
})

/** An open aedes that records what the operator of a broker could see. */
async function watchedBroker() {
  const broker = await Aedes.createBroker()
  const subscriptions: { clientId: string; filter: string }[] = []
  const publishes: { clientId: string; topic: string; payload: Buffer }[] = []
  broker.on('subscribe', (subs, client) => {
    for (const s of subs) subscriptions.push({ clientId: client.id, filter: s.topic })
  })
  broker.on('publish', (packet, client) => {
    if (client && packet.topic.startsWith(MQTT_TOPIC_ROOT)) {
      publishes.push({
        clientId: client.id,
        topic: packet.topic,
        payload: packet.payload as Buffer,
      })
    }
  })
  const sockets = new Set<Socket>()
  const server: Server = createServer((s) => {
    sockets.add(s)
    s.once('close', () => sockets.delete(s))
    broker.handle(s)
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  const port = (server.address() as { port: number }).port
  cleanups.push(async () => {
    for (const s of sockets) s.destroy()
    await new Promise<void>((r) => server.close(() => r()))
    await new Promise<void>((r) => broker.close(() => r()))
  })
  return { url: `mqtt://127.0.0.1:${port}`, subscriptions, publishes }
}

async function rawClient(url: string): Promise<MqttClient> {
  const client = await connectAsync(url, { protocolVersion: 4, reconnectPeriod: 0 })
  cleanups.push(() => client.endAsync(true))
  return client
}

/** Retained messages currently on the broker under `filters`. */
async function retained(url: string, filters: string[]): Promise<Map<string, Buffer>> {
  const client = await rawClient(url)
  const out = new Map<string, Buffer>()
  client.on('message', (topic, payload, packet) => {
    if (packet.retain && payload.length > 0) out.set(topic, payload)
  })
  await client.subscribeAsync(filters, { qos: 1 })
  await new Promise((r) => setTimeout(r, 200))
  await client.endAsync()
  return out
}

describe('what the broker and its other clients can learn', () => {
  it('nothing links one peer across its topics or across restarts', async () => {
    const broker = await watchedBroker()
    const [t1, t2] = await Promise.all([testTopicKeys(), testTopicKeys()])
    const identity = createTestIdentity()
    const peer = createMqttDiscovery({
      brokerUrl: broker.url,
      identity,
      getAnnouncement: () => ({
        addresses: [{ host: '198.51.100.9', port: 4000, kind: 'public' }],
        nat: 'easy',
      }),
    })
    cleanups.push(() => peer.stop())
    // A member of t1 proves the announcements are really there.
    const member = createMqttDiscovery({
      brokerUrl: broker.url,
      identity: createTestIdentity(),
      getAnnouncement: () => ({ addresses: [], nat: 'unknown' }),
    })
    cleanups.push(() => member.stop())
    await peer.start()
    await peer.join(t1)
    await peer.join(t2)
    await member.start()
    await member.join(t1)
    await waitForPeer(member, byKey(identity.publicKey))

    const filters = [topicFilter(t1.publicId), topicFilter(t2.publicId)]
    const first = await retained(broker.url, filters)
    expect(first.size).toBe(3) // the peer on t1 and t2, the member on t1
    // Our public key appears in no payload (sealed), and each topic has its own random slot.
    for (const payload of first.values()) {
      expect(payload.indexOf(Buffer.from(identity.publicKey))).toBe(-1)
    }
    const slotsOf = (m: Map<string, Buffer>, t: { publicId: string }) =>
      [...m.keys()].filter((k) => k.includes(t.publicId)).map((k) => k.split('/').at(-1))
    // One connection per topic: no client id subscribes to, or publishes on, two topics.
    const clientIds = new Set(broker.publishes.map((p) => p.clientId))
    expect(clientIds.size).toBe(3)
    for (const id of clientIds) {
      const filtersOfId = new Set(
        broker.subscriptions.filter((s) => s.clientId === id).map((s) => s.filter),
      )
      expect(filtersOfId.size).toBe(1)
      const topicsOfId = new Set(
        broker.publishes.filter((p) => p.clientId === id).map((p) => p.topic.split('/')[2]),
      )
      expect(topicsOfId.size).toBe(1)
    }
    const t2Slots = slotsOf(first, t2)
    expect(t2Slots).toHaveLength(1)

    // A restart: new slots, new client ids; and the old retained announcements were cleared.
    const idsBefore = new Set(broker.subscriptions.map((s) => s.clientId))
    await peer.stop()
    expect(slotsOf(await retained(broker.url, filters), t2)).toEqual([])
    await peer.start()
    await waitForPeer(member, byKey(identity.publicKey))
    const second = await retained(broker.url, filters)
    const t2SlotsAfter = slotsOf(second, t2)
    expect(t2SlotsAfter).toHaveLength(1)
    expect(t2SlotsAfter[0]).not.toBe(t2Slots[0])
    const newIds = [...new Set(broker.publishes.map((p) => p.clientId))].filter(
      (id) => !idsBefore.has(id),
    )
    expect(newIds.length).toBeGreaterThanOrEqual(2)
    expect(newIds.every((id) => /^hdp[0-9a-f]{20}$/.test(id))).toBe(true)
  })
})

describe('embedded broker', () => {
  it('serves friends with one option', async () => {
    const host = createMqttDiscovery({
      identity: createTestIdentity(),
      getAnnouncement: () => ({ addresses: [], nat: 'unknown' }),
      embeddedBroker: { host: '127.0.0.1', port: 0 },
    })
    cleanups.push(() => host.stop())
    await host.start()
    expect(host.brokerUrl).toBe(host.embeddedBroker?.url)
    const topic = await testTopicKeys()
    const friend = createMqttDiscovery({
      identity: createTestIdentity(),
      brokerUrl: host.brokerUrl,
      getAnnouncement: () => ({ addresses: [], nat: 'unknown' }),
    })
    cleanups.push(() => friend.stop())
    await friend.start()
    await host.join(topic)
    await friend.join(topic)
    const hostKey = (await waitForPeer(friend, () => true)).announcement.key
    await waitForPeer(host, () => true)
    expect(hostKey).toBeInstanceOf(Uint8Array)
    await host.stop()
    expect(host.embeddedBroker?.address).toBeUndefined()
  })

  it('carries only harddrive-party announcements: no wildcard listing, no other topics, no big payloads', async () => {
    const broker = createEmbeddedBroker()
    cleanups.push(() => broker.stop())
    await broker.start()
    const client = await rawClient(broker.url!)
    const topic = await testTopicKeys()
    await expect(client.subscribeAsync('#', { qos: 1 })).rejects.toThrow(/Subscribe error/)
    await expect(client.subscribeAsync(`${MQTT_TOPIC_ROOT}/#`, { qos: 1 })).rejects.toThrow(
      /Subscribe error/,
    )
    const granted = await client.subscribeAsync(topicFilter(topic.publicId), { qos: 1 })
    expect(granted.map((g) => g.qos)).toEqual([1])
    const slot = `${MQTT_TOPIC_ROOT}/${topic.publicId}/${'ab'.repeat(16)}`
    await client.publishAsync(slot, Buffer.alloc(100), { qos: 1 })
    const closed = new Promise<void>((r) => client.once('close', () => r()))
    client.publish('somewhere/else', 'x', { qos: 1 })
    await closed
    const again = await rawClient(broker.url!)
    const closedAgain = new Promise<void>((r) => again.once('close', () => r()))
    again.publish(slot, Buffer.alloc(5000), { qos: 1 })
    await closedAgain
  })

  it('refuses to start on an address it cannot listen on, with a typed error', async () => {
    const first = createEmbeddedBroker()
    cleanups.push(() => first.stop())
    await first.start()
    const second = createEmbeddedBroker({ port: first.address!.port })
    await expect(second.start()).rejects.toMatchObject({
      name: 'DiscoveryError',
      code: 'BROKER_LISTEN_FAILED',
    })
  })
})
