import { isHdpError, type TopicKeys } from '@harddrive-party/wire-protocol'
import { equalBytes } from '@harddrive-party/wire-protocol/internal'
import { afterEach, describe, expect, it } from 'vitest'
import type { AnnouncementInput, Discovery, Identity, PeerFound } from './discovery'
import { byKey, createTestIdentity, testTopicKeys, waitForGone, waitForPeer } from './test-peers'

/** One test peer handed to a harness. */
export interface CompliancePeer {
  identity: Identity
  /** The transport port this peer would advertise. */
  port: number
  /** What an MQTT-style implementation should announce (mutable by the suite). */
  getAnnouncement: () => AnnouncementInput
}

/** How the compliance suite makes discoveries of one implementation. */
export interface ComplianceHarness {
  /** A discovery for `peer`, not started. Called several times per test (one per peer). */
  create(peer: CompliancePeer): Discovery | Promise<Discovery>
  /** Called after each test, after every discovery was stopped. */
  cleanup?(): Promise<void>
}

/** Longest wait for an expected event in the suite. */
const FIND_TIMEOUT_MS = 10_000
/** How long the suite listens for events that must not come. */
const SETTLE_MS = 400

/**
 * The behaviour every {@link Discovery} implementation promises (style H22): idempotent
 * lifecycle, finding peers once per change, topic isolation, late joiners, leave, the peers()
 * iterator, abort handling and typed errors. `setup` runs once per test.
 */
export function discoveryCompliance(
  name: string,
  setup: () => ComplianceHarness | Promise<ComplianceHarness>,
): void {
  describe(`discovery compliance: ${name}`, () => {
    let harness: ComplianceHarness | undefined
    const running: Discovery[] = []

    afterEach(async () => {
      await Promise.allSettled(running.splice(0).map((d) => d.stop()))
      await harness?.cleanup?.()
      harness = undefined
    })

    const peer = async (port = 40_000 + Math.floor(Math.random() * 20_000)) => {
      harness ??= await setup()
      const identity = createTestIdentity()
      let announcement: AnnouncementInput = {
        addresses: [{ host: '127.0.0.1', port, kind: 'lan' }],
        nat: 'unknown',
      }
      const discovery = await harness.create({
        identity,
        port,
        getAnnouncement: () => announcement,
      })
      running.push(discovery)
      const seen: PeerFound[] = []
      discovery.addEventListener('peer', (e) => seen.push(e.detail))
      return {
        discovery,
        identity,
        seen,
        setAnnouncement(next: AnnouncementInput) {
          announcement = next
        },
        eventsFrom: (key: Uint8Array) => seen.filter((p) => equalBytes(p.announcement.key, key)),
      }
    }
    /** Two started peers that both joined `topic`. */
    const joinedPair = async (topic: TopicKeys) => {
      const a = await peer()
      const b = await peer()
      await a.discovery.start()
      await b.discovery.start()
      await a.discovery.join(topic)
      await b.discovery.join(topic)
      return { a, b }
    }
    const settle = () => new Promise((r) => setTimeout(r, SETTLE_MS))

    it('start() and stop() are idempotent, and stop() before start() is a no-op', async () => {
      const { discovery } = await peer()
      await discovery.stop()
      await Promise.all([discovery.start(), discovery.start()])
      await discovery.start()
      await Promise.all([discovery.stop(), discovery.stop()])
      await discovery.stop()
      await discovery.start()
      await discovery.stop()
      expect(discovery.topics()).toEqual([])
    })

    it('two peers on one topic find each other, once, with the proof of their source', async () => {
      const topic = await testTopicKeys()
      const { a, b } = await joinedPair(topic)
      const [atA, atB] = await Promise.all([
        waitForPeer(a.discovery, byKey(b.identity.publicKey), { timeoutMs: FIND_TIMEOUT_MS }),
        waitForPeer(b.discovery, byKey(a.identity.publicKey), { timeoutMs: FIND_TIMEOUT_MS }),
      ])
      expect(atA.topic).toBe(topic)
      expect(atB.topic).toBe(topic)
      expect(atA.proof).toBe(atA.via === 'mqtt' ? 'signature' : 'capability')
      expect(atA.announcement.addresses.length).toBeGreaterThan(0)
      // Re-announcing what did not change must not produce more events.
      await a.discovery.announce()
      await b.discovery.announce()
      await settle()
      await a.discovery.announce()
      await settle()
      expect(a.eventsFrom(b.identity.publicKey)).toHaveLength(1)
      expect(b.eventsFrom(a.identity.publicKey)).toHaveLength(1)
      expect(a.eventsFrom(a.identity.publicKey)).toHaveLength(0)
      expect(a.discovery.knownPeers(topic).map((p) => p.announcement.key)).toEqual([
        b.identity.publicKey,
      ])
    })

    it('reports only peers of joined topics', async () => {
      const [t1, t2] = await Promise.all([testTopicKeys(), testTopicKeys()])
      const a = await peer()
      const b = await peer()
      const c = await peer()
      for (const p of [a, b, c]) await p.discovery.start()
      await c.discovery.join(t2)
      await a.discovery.join(t1)
      await b.discovery.join(t1)
      await waitForPeer(a.discovery, byKey(b.identity.publicKey), { timeoutMs: FIND_TIMEOUT_MS })
      await waitForPeer(b.discovery, byKey(a.identity.publicKey), { timeoutMs: FIND_TIMEOUT_MS })
      await settle()
      expect(a.eventsFrom(c.identity.publicKey)).toHaveLength(0)
      expect(c.seen).toHaveLength(0)
    })

    it('a peer that starts and joins later finds, and is found by, the earlier one', async () => {
      const topic = await testTopicKeys()
      const a = await peer()
      await a.discovery.start()
      await a.discovery.join(topic)
      await settle()
      const b = await peer()
      await b.discovery.join(topic)
      await b.discovery.start()
      await Promise.all([
        waitForPeer(a.discovery, byKey(b.identity.publicKey), { timeoutMs: FIND_TIMEOUT_MS }),
        waitForPeer(b.discovery, byKey(a.identity.publicKey), { timeoutMs: FIND_TIMEOUT_MS }),
      ])
    })

    it('leave() makes the others report the peer gone, and forgets the topic', async () => {
      const topic = await testTopicKeys()
      const { a, b } = await joinedPair(topic)
      await waitForPeer(a.discovery, byKey(b.identity.publicKey), { timeoutMs: FIND_TIMEOUT_MS })
      const gone = waitForGone(a.discovery, (g) => equalBytes(g.key, b.identity.publicKey), {
        timeoutMs: FIND_TIMEOUT_MS,
      })
      await b.discovery.leave(topic)
      expect((await gone).topic).toBe(topic)
      expect(b.discovery.topics()).toEqual([])
      expect(b.discovery.knownPeers()).toEqual([])
      expect(a.discovery.knownPeers(topic)).toEqual([])
    })

    it('stop() makes the others report the peer gone', async () => {
      const topic = await testTopicKeys()
      const { a, b } = await joinedPair(topic)
      await waitForPeer(a.discovery, byKey(b.identity.publicKey), { timeoutMs: FIND_TIMEOUT_MS })
      const gone = waitForGone(a.discovery, (g) => equalBytes(g.key, b.identity.publicKey), {
        timeoutMs: FIND_TIMEOUT_MS,
      })
      await b.discovery.stop()
      expect((await gone).topic).toBe(topic)
      expect(b.discovery.topics()).toEqual([topic])
    })

    it('peers() yields known peers first, then new ones, and ends with the abort reason', async () => {
      const topic = await testTopicKeys()
      const a = await peer()
      const b = await peer()
      const c = await peer()
      for (const p of [a, b, c]) await p.discovery.start()
      await a.discovery.join(topic)
      await b.discovery.join(topic)
      await waitForPeer(a.discovery, byKey(b.identity.publicKey), { timeoutMs: FIND_TIMEOUT_MS })
      const controller = new AbortController()
      const timer = setTimeout(() => controller.abort(new Error('suite timeout')), FIND_TIMEOUT_MS)
      const keys: Uint8Array[] = []
      const iterate = (async () => {
        for await (const p of a.discovery.peers({ signal: controller.signal, topic })) {
          keys.push(p.announcement.key)
          if (keys.length === 1) await c.discovery.join(topic)
          if (keys.length === 2) controller.abort()
        }
      })()
      const err = await iterate.then(
        () => undefined,
        (e: unknown) => e,
      )
      clearTimeout(timer)
      expect((err as Error)?.name).toBe('AbortError')
      expect(keys[0]).toEqual(b.identity.publicKey)
      expect(keys[1]).toEqual(c.identity.publicKey)
    })

    it('start() and join() with an aborted signal reject with an AbortError', async () => {
      const topic = await testTopicKeys()
      const { discovery } = await peer()
      const aborted = AbortSignal.abort()
      await expect(discovery.start({ signal: aborted })).rejects.toMatchObject({
        name: 'AbortError',
      })
      await expect(discovery.join(topic, { signal: aborted })).rejects.toMatchObject({
        name: 'AbortError',
      })
      expect(discovery.topics()).toEqual([])
    })

    it('join() is idempotent per topic, and the 33rd topic is a typed TOO_MANY_TOPICS error', async () => {
      const { discovery } = await peer()
      const topics = await Promise.all(Array.from({ length: 33 }, () => testTopicKeys()))
      await discovery.join(topics[0]!)
      await discovery.join(topics[0]!)
      for (const t of topics.slice(1, 32)) await discovery.join(t)
      expect(discovery.topics()).toHaveLength(32)
      const err = await discovery.join(topics[32]!).then(
        () => undefined,
        (e: unknown) => e,
      )
      expect(isHdpError(err)).toBe(true)
      expect(err).toMatchObject({ name: 'DiscoveryError', code: 'TOO_MANY_TOPICS' })
      await expect(discovery.join({ publicId: 'nope' } as TopicKeys)).rejects.toThrow(TypeError)
    })

    it('after stop() and start() again, peers are found again (joins survive a restart)', async () => {
      const topic = await testTopicKeys()
      const { a, b } = await joinedPair(topic)
      await waitForPeer(a.discovery, byKey(b.identity.publicKey), { timeoutMs: FIND_TIMEOUT_MS })
      await a.discovery.stop()
      expect(a.discovery.knownPeers()).toEqual([])
      await a.discovery.start()
      expect(a.discovery.topics()).toEqual([topic])
      await waitForPeer(a.discovery, byKey(b.identity.publicKey), { timeoutMs: FIND_TIMEOUT_MS })
      expect(a.eventsFrom(b.identity.publicKey)).toHaveLength(2)
    })
  })
}
