import {
  type AnnouncementInput,
  createMqttDiscovery,
  type MqttDiscovery,
} from '@harddrive-party/discovery'
import {
  announceTopic,
  byKey,
  createTestIdentity,
  testTopicKeys,
  topicFilter,
  waitForGone,
  waitForPeer,
} from '@harddrive-party/discovery/testing'
import {
  type Announcement,
  openAnnouncement,
  sealAnnouncement,
} from '@harddrive-party/wire-protocol'
import { equalBytes } from '@harddrive-party/wire-protocol/internal'
import { connectAsync, type MqttClient } from 'mqtt'
import { afterEach, describe, expect, it } from 'vitest'
import { BROKER_KINDS, sharedBroker } from './helpers/brokers'

const cleanups: (() => Promise<unknown>)[] = []
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c().catch(() => undefined)
})

const randomSlot = () => Buffer.from(crypto.getRandomValues(new Uint8Array(16))).toString('hex')
const bytes = (n: number, first: number) => {
  const b = Buffer.from(crypto.getRandomValues(new Uint8Array(n)))
  b[0] = first
  return b
}

async function until(check: () => boolean, timeoutMs: number, what: string): Promise<void> {
  const deadline = Date.now() + timeoutMs
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`)
    await new Promise((r) => setTimeout(r, 20))
  }
}

function honestPeer(brokerUrl: string, announcement: AnnouncementInput) {
  const identity = createTestIdentity()
  let current = announcement
  const discovery = createMqttDiscovery({
    brokerUrl,
    identity,
    getAnnouncement: () => current,
  })
  cleanups.push(() => discovery.stop())
  return {
    discovery,
    identity,
    set(next: AnnouncementInput) {
      current = next
    },
  }
}

async function attacker(url: string): Promise<MqttClient> {
  const client = await connectAsync(url, { protocolVersion: 4, reconnectPeriod: 0 })
  cleanups.push(() => client.endAsync(true))
  return client
}

/** Joined, subscribed (its own echo came back) and ready to be attacked. */
async function listening(d: MqttDiscovery): Promise<void> {
  await until(() => d.stats.rejected.own >= 1, 10_000, 'the subscription to be live')
}

describe.each(BROKER_KINDS)('hostile input through %s', (kind) => {
  it('rejects and counts garbage, foreign seals, forgeries, bad times and replays; still finds the honest peer', async () => {
    const broker = await sharedBroker(kind)
    cleanups.push(() => broker.stop())
    const [topic, other] = await Promise.all([testTopicKeys(), testTopicKeys()])
    const a = honestPeer(broker.url, {
      addresses: [{ host: '198.51.100.1', port: 4000, kind: 'public' }],
      nat: 'open',
    })
    const b = honestPeer(broker.url, {
      addresses: [{ host: '198.51.100.2', port: 4000, kind: 'public' }],
      nat: 'easy',
    })
    const evil = await attacker(broker.url)
    const captured: Buffer[] = []
    evil.on('message', (_t, payload) => {
      if (payload.length > 0) captured.push(payload)
    })
    await evil.subscribeAsync(topicFilter(topic.publicId), { qos: 1 })

    await a.discovery.start()
    await a.discovery.join(topic)
    await listening(a.discovery)
    await b.discovery.start()
    await b.discovery.join(topic)
    await waitForPeer(a.discovery, byKey(b.identity.publicKey))
    // The attacker is no member, but the test can open what it captured to tell whose it is.
    const from = (key: Uint8Array) =>
      captured.filter((p) => equalBytes(openAnnouncement(p, topic).key, key))
    const bFirst = from(b.identity.publicKey)[0]!
    const aOwn = from(a.identity.publicKey)[0]!
    // B moves: A learns the new address, and B's first announcement becomes a replay.
    b.set({ addresses: [{ host: '198.51.100.2', port: 4001, kind: 'public' }], nat: 'easy' })
    await b.discovery.announce()
    await waitForPeer(a.discovery, (p) => p.announcement.addresses[0]?.port === 4001)
    await until(() => from(b.identity.publicKey).length >= 2, 5000, 'the capture')
    const bCurrent = from(b.identity.publicKey).at(-1)!

    const before = a.discovery.stats
    const evilIdentity = createTestIdentity()
    const seal = (fields: Partial<Announcement>, t = topic, key = evilIdentity) => {
      const announcement: Announcement = {
        key: evilIdentity.publicKey,
        addresses: [{ host: '203.0.113.66', port: 6666, kind: 'public' }],
        nat: 'open',
        timestamp: Date.now(),
        nonce: crypto.getRandomValues(new Uint8Array(16)),
        ...fields,
      }
      return Buffer.from(sealAnnouncement(announcement, t, key.secretKey.subarray(0, 32)))
    }
    const attacks: [string, Buffer, string][] = [
      ...Array.from({ length: 20 }, () => ['unsupported-version', bytes(100, 7), randomSlot()]),
      ...Array.from({ length: 20 }, () => ['bad-seal', bytes(100, 1), randomSlot()]),
      ...Array.from({ length: 10 }, () => ['malformed', bytes(10, 1), randomSlot()]),
      ['too-large', bytes(5000, 1), randomSlot()],
      ['bad-seal', seal({}, other), randomSlot()],
      // Claims to be B, signed by the attacker's key.
      ['bad-signature', seal({ key: b.identity.publicKey }), randomSlot()],
      ['stale', seal({ timestamp: Date.now() - 3_600_000 }), randomSlot()],
      ['from-future', seal({ timestamp: Date.now() + 3_600_000 }), randomSlot()],
      ['replay', bFirst, randomSlot()],
      ['own', aOwn, randomSlot()],
      ['bad-topic', bytes(100, 1), 'not-a-slot'],
    ].map(([reason, payload, slot]) => [reason as string, payload as Buffer, slot as string])
    const expected: Record<string, number> = {}
    for (const [reason, payload, slot] of attacks) {
      expected[reason] = (expected[reason] ?? 0) + 1
      const mqttTopic =
        slot === 'not-a-slot'
          ? `hdp/1/${topic.publicId}/${slot}`
          : announceTopic(topic.publicId, slot)
      await evil.publishAsync(mqttTopic, payload, { qos: 1 })
    }
    // The current announcement again, elsewhere: harmless, counted as a duplicate.
    await evil.publishAsync(announceTopic(topic.publicId, randomSlot()), bCurrent, { qos: 1 })
    await until(
      () => a.discovery.stats.received >= before.received + attacks.length + 1,
      10_000,
      'every attack to arrive',
    )
    const after = a.discovery.stats
    for (const [reason, n] of Object.entries(expected)) {
      expect([
        reason,
        after.rejected[reason as keyof typeof after.rejected] -
          before.rejected[reason as keyof typeof before.rejected],
      ]).toEqual([reason, n])
    }
    expect(after.duplicates - before.duplicates).toBe(1)
    expect(after.accepted).toBe(before.accepted)
    // Still working: a newcomer is found, and the forged "B" never replaced the real one.
    const c = honestPeer(broker.url, {
      addresses: [{ host: '198.51.100.3', port: 4000, kind: 'public' }],
      nat: 'hard',
    })
    await c.discovery.start()
    await c.discovery.join(topic)
    await waitForPeer(a.discovery, byKey(c.identity.publicKey))
    const bNow = a.discovery.knownPeers().find(byKey(b.identity.publicKey))
    expect(bNow?.announcement.addresses).toEqual([
      { host: '198.51.100.2', port: 4001, kind: 'public' },
    ])
  })

  it('survives a flood of 10,000 junk messages, counts them, and finds a peer joining meanwhile', async () => {
    const broker = await sharedBroker(kind)
    cleanups.push(() => broker.stop())
    const topic = await testTopicKeys()
    const a = honestPeer(broker.url, {
      addresses: [{ host: '198.51.100.1', port: 4000, kind: 'public' }],
      nat: 'open',
    })
    await a.discovery.start()
    await a.discovery.join(topic)
    await listening(a.discovery)
    const evil = await attacker(broker.url)
    const b = honestPeer(broker.url, {
      addresses: [{ host: '198.51.100.2', port: 4000, kind: 'public' }],
      nat: 'easy',
    })
    const flood = (async () => {
      for (let i = 0; i < 10_000; i += 500) {
        await Promise.all(
          Array.from({ length: 500 }, () =>
            evil.publishAsync(announceTopic(topic.publicId, randomSlot()), bytes(120, 1), {
              qos: 1,
            }),
          ),
        )
        if (i === 5000) {
          await b.discovery.start()
          await b.discovery.join(topic)
        }
      }
    })()
    await flood
    await waitForPeer(a.discovery, byKey(b.identity.publicKey), { timeoutMs: 30_000 })
    await until(
      () => a.discovery.stats.rejected['bad-seal'] >= 10_000,
      60_000,
      'the flood to arrive',
    )
    expect(a.discovery.stats.rejected['bad-seal']).toBe(10_000)
    expect(a.discovery.stats.accepted).toBe(1)
  })

  it("someone empties a peer's retained slot: the others see it gone, the owner puts it back", async () => {
    const broker = await sharedBroker(kind)
    cleanups.push(() => broker.stop())
    const topic = await testTopicKeys()
    const a = honestPeer(broker.url, { addresses: [], nat: 'open' })
    const b = honestPeer(broker.url, { addresses: [], nat: 'easy' })
    const evil = await attacker(broker.url)
    const slots = new Map<string, Uint8Array>()
    evil.on('message', (mqttTopic, payload) => {
      if (payload.length > 0) slots.set(mqttTopic, openAnnouncement(payload, topic).key)
    })
    await evil.subscribeAsync(topicFilter(topic.publicId), { qos: 1 })
    for (const p of [a, b]) {
      await p.discovery.start()
      await p.discovery.join(topic)
    }
    await waitForPeer(b.discovery, byKey(a.identity.publicKey))
    await until(() => slots.size === 2, 5000, 'both slots')
    const aSlot = [...slots].find(([, key]) => equalBytes(key, a.identity.publicKey))![0]
    const gone = waitForGone(b.discovery, (g) => equalBytes(g.key, a.identity.publicKey))
    await evil.publishAsync(aSlot, Buffer.alloc(0), { qos: 1, retain: true })
    expect(await gone).toMatchObject({ reason: 'cleared' })
    // A noticed its own slot emptied and re-published: B finds it again, and so does a newcomer.
    await waitForPeer(b.discovery, byKey(a.identity.publicKey))
    const c = honestPeer(broker.url, { addresses: [], nat: 'hard' })
    await c.discovery.start()
    await c.discovery.join(topic)
    await waitForPeer(c.discovery, byKey(a.identity.publicKey))
  })
})
