/**
 * Real helpers for tests of discovery and of its users (peer-node): identities, fast topic keys,
 * a mosquitto broker as a child process, waiting for a peer, and the compliance suite every
 * {@link Discovery} implementation runs. Node only; imports vitest.
 */
import { type ChildProcess, spawn } from 'node:child_process'
import { generateKeyPairSync } from 'node:crypto'
import { mkdtemp, rm, writeFile } from 'node:fs/promises'
import { createServer, connect as tcpConnect } from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import {
  deriveTopicKeys,
  equalBytes,
  isHdpError,
  type TopicKeys,
} from '@harddrive-party/wire-protocol'
import { afterEach, describe, expect, it } from 'vitest'
import type {
  AbortOptions,
  AnnouncementInput,
  Discovery,
  Identity,
  PeerFound,
  PeerGone,
} from './discovery'
import { randomHex } from './hex'

/** Cheap scrypt cost for tests. Every peer of a test must use the same. */
export const TEST_KDF = { N: 1024, r: 8, p: 1 } as const

/** A fresh ed25519 identity in libsodium form (seed ‖ public key). */
export function createTestIdentity(): Identity {
  const { privateKey } = generateKeyPairSync('ed25519')
  const jwk = privateKey.export({ format: 'jwk' })
  const seed = Buffer.from(jwk.d ?? '', 'base64url')
  const publicKey = new Uint8Array(Buffer.from(jwk.x ?? '', 'base64url'))
  const secretKey = new Uint8Array(64)
  secretKey.set(seed, 0)
  secretKey.set(publicKey, 32)
  return { publicKey, secretKey }
}

/** Topic keys with {@link TEST_KDF}; a random name unless one is given. */
export function testTopicKeys(name = `test topic ${randomHex(8)}`): Promise<TopicKeys> {
  return deriveTopicKeys(name, { kdf: TEST_KDF })
}

/** Resolves with the first peer (known or new) that `match` accepts; rejects after `timeoutMs`. */
export async function waitForPeer(
  discovery: Discovery,
  match: (peer: PeerFound) => boolean,
  options: AbortOptions & { timeoutMs?: number } = {},
): Promise<PeerFound> {
  const timeoutMs = options.timeoutMs ?? 10_000
  const signal = AbortSignal.any([
    AbortSignal.timeout(timeoutMs),
    ...(options.signal ? [options.signal] : []),
  ])
  try {
    for await (const peer of discovery.peers({ signal })) if (match(peer)) return peer
  } catch (err) {
    if ((err as Error)?.name === 'TimeoutError') {
      throw new Error(`no matching peer within ${timeoutMs} ms`, { cause: err })
    }
    throw err
  }
  throw new Error('peers() ended')
}

/** Resolves with the first `gone` event that `match` accepts; rejects after `timeoutMs`. */
export function waitForGone(
  discovery: Discovery,
  match: (gone: PeerGone) => boolean,
  options: { timeoutMs?: number } = {},
): Promise<PeerGone> {
  const timeoutMs = options.timeoutMs ?? 10_000
  return new Promise((resolve, reject) => {
    const onGone = (e: CustomEvent<PeerGone>) => {
      if (!match(e.detail)) return
      done()
      resolve(e.detail)
    }
    const timer = setTimeout(() => {
      done()
      reject(new Error(`no matching gone event within ${timeoutMs} ms`))
    }, timeoutMs)
    const done = () => {
      clearTimeout(timer)
      discovery.removeEventListener('gone', onGone)
    }
    discovery.addEventListener('gone', onGone)
  })
}

/** A peer-key matcher for {@link waitForPeer}. */
export function byKey(key: Uint8Array): (peer: PeerFound) => boolean {
  return (peer) => equalBytes(peer.announcement.key, key)
}

export interface MosquittoOptions {
  /** Fixed port (a restart reuses it). Default: a free one. */
  port?: number
}

/** A Debian mosquitto 2 broker started for a test, on 127.0.0.1 only. */
export interface Mosquitto {
  readonly url: string
  readonly port: number
  readonly pid: number | undefined
  /** SIGKILL, as a crash: no goodbye to clients. */
  kill(): Promise<void>
  /** Starts it again on the same port(s) after `kill()`/`stop()`. */
  restart(): Promise<void>
  stop(): Promise<void>
  [Symbol.asyncDispose](): Promise<void>
}

/** Starts `mosquitto -c <conf>` and waits until it accepts TCP connections. */
export async function startMosquitto(options: MosquittoOptions = {}): Promise<Mosquitto> {
  const dir = await mkdtemp(join(tmpdir(), 'hdp-mosquitto-'))
  const port = options.port ?? (await freeTcpPort())
  const conf = join(dir, 'mosquitto.conf')
  await writeFile(
    conf,
    [
      `listener ${port} 127.0.0.1`,
      'allow_anonymous true',
      'persistence false',
      'log_dest stderr',
      'log_type error',
      '',
    ].join('\n'),
  )
  let child: ChildProcess | undefined
  const launch = async () => {
    const c = spawn('mosquitto', ['-c', conf], { stdio: ['ignore', 'ignore', 'pipe'] })
    let stderr = ''
    c.stderr?.on('data', (d: Buffer) => {
      stderr += d.toString()
    })
    const exited = new Promise<never>((_, reject) => {
      c.once('exit', (code) => reject(new Error(`mosquitto exited (${code}): ${stderr}`)))
      c.once('error', reject)
    })
    exited.catch(() => undefined)
    child = c
    await Promise.race([waitForTcp(port, 5000), exited])
  }
  const end = async (signal: NodeJS.Signals) => {
    const c = child
    child = undefined
    if (!c || c.exitCode !== null || c.signalCode !== null) return
    const gone = new Promise<void>((resolve) => c.once('exit', () => resolve()))
    c.kill(signal)
    const timer = setTimeout(() => c.kill('SIGKILL'), 2000)
    await gone
    clearTimeout(timer)
  }
  await launch()
  const stop = async () => {
    await end('SIGTERM')
    await rm(dir, { recursive: true, force: true })
  }
  return {
    url: `mqtt://127.0.0.1:${port}`,
    port,
    get pid() {
      return child?.pid
    },
    kill: () => end('SIGKILL'),
    restart: launch,
    stop,
    [Symbol.asyncDispose]: stop,
  }
}

/** A TCP port that was free a moment ago on 127.0.0.1. */
export async function freeTcpPort(): Promise<number> {
  const server = createServer()
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  const address = server.address()
  await new Promise<void>((resolve) => server.close(() => resolve()))
  if (typeof address !== 'object' || !address) throw new Error('no port')
  return address.port
}

async function waitForTcp(port: number, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs
  while (true) {
    const ok = await new Promise<boolean>((resolve) => {
      const socket = tcpConnect(port, '127.0.0.1')
      socket.once('connect', () => {
        socket.destroy()
        resolve(true)
      })
      socket.once('error', () => resolve(false))
    })
    if (ok) return
    if (Date.now() > deadline) throw new Error(`nothing listens on 127.0.0.1:${port}`)
    await new Promise((r) => setTimeout(r, 25))
  }
}

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
