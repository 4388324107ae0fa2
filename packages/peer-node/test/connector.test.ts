import type { PeerFound } from '@harddrive-party/discovery'
import { createHolePuncher } from '@harddrive-party/holepunch'
import { createIdentity, createTransport, type Transport } from '@harddrive-party/transport'
import { duplexPair, testTopic } from '@harddrive-party/transport/testing'
import { isDialer } from '@harddrive-party/wire-protocol/internal'
import { afterEach, describe, expect, it } from 'vitest'
import { ConnectionRegistry } from '../src/connections/connection-registry'
import { Connector } from '../src/connections/connector'
import { defaultLogger } from '../src/logger'
import { waitUntil } from './helpers'

const stops: Array<() => Promise<void>> = []
afterEach(async () => {
  for (const stop of stops.splice(0).reverse()) await stop()
})

/** A transport whose key sorts below `other`'s, so it is the dialer. */
async function dialerTowards(other: Uint8Array): Promise<Transport> {
  let identity = createIdentity()
  while (!isDialer(identity.publicKey, other)) identity = createIdentity()
  const transport = createTransport({ identity, topics: () => [], host: '127.0.0.1' })
  await transport.start()
  stops.push(() => transport.stop())
  return transport
}

describe('connector', () => {
  it('says in words why an attempt failed, retries with backoff while announced, and stops when gone', async () => {
    const topic = await testTopic('unreachable')
    const remote = createIdentity()
    const transport = await dialerTowards(remote.publicKey)
    const puncher = createHolePuncher({ socket: transport.socket })
    await puncher.start()
    stops.push(() => puncher.stop())
    const registry = new ConnectionRegistry(transport.publicKey, defaultLogger('test'))
    const connector = new Connector({
      transport,
      puncher,
      registry,
      publicKey: transport.publicKey,
      localNat: () => ({ nat: 'easy', publicAddress: { host: '127.0.0.9', port: 1 } }),
      log: defaultLogger('test'),
      directTimeoutMs: 300,
      backoffMs: [100, 200],
      punchOptions: { timeoutMs: 300 },
    })
    connector.start()
    stops.push(() => connector.stop())
    const found: PeerFound = {
      topic,
      via: 'mqtt',
      proof: 'signature',
      announcement: {
        key: remote.publicKey,
        // Nobody listens there.
        addresses: [{ host: '127.0.0.1', port: 9, kind: 'public' }],
        nat: 'unknown',
        timestamp: Date.now(),
        nonce: new Uint8Array(16),
      },
    }
    connector.onPeer(found)
    const hex = Buffer.from(remote.publicKey).toString('hex')
    await waitUntil('two failed attempts', () => (connector.info(hex)?.failures ?? 0) >= 2, 20_000)
    const info = connector.info(hex)!
    expect(info).toMatchObject({ ourNat: 'easy', theirNat: 'unknown', via: 'mqtt' })
    expect(info.tried).toEqual(['direct', 'simultaneous'])
    expect(info.failure).toMatch(
      /^dial 127\.0\.0\.1:9: no answer within 300 ms; simultaneous punch: PUNCH_TIMEOUT: simultaneous: no packet from the peer in \d+ ms \(\d+ sent\)$/,
    )
    expect(info.used).toBeUndefined()
    console.log(`the doctor's failure text: ${info.failure}`)
    // Gone: no more attempts.
    connector.onGone({ topic, key: remote.publicKey, via: 'mqtt', reason: 'cleared' })
    const attempts = connector.info(hex)!.attempts
    await new Promise((resolve) => setTimeout(resolve, 1500))
    expect(connector.info(hex)!.attempts).toBe(attempts)
    expect(connector.info(hex)!.nextAttemptAt).toBeUndefined()
  }, 30_000)

  it('while relayed, looks for a direct path on its timer (failures not counted, the relayed connection kept) and takes it when the peer announces one', async () => {
    const topic = await testTopic('upgrade')
    const remote = createIdentity()
    const b = createTransport({ identity: remote, topics: () => [topic], host: '127.0.0.1' })
    await b.start()
    stops.push(() => b.stop())
    let identity = createIdentity()
    while (!isDialer(identity.publicKey, remote.publicKey)) identity = createIdentity()
    const a2 = createTransport({ identity, topics: () => [topic], host: '127.0.0.1' })
    await a2.start()
    stops.push(() => a2.stop())
    const puncher = createHolePuncher({ socket: a2.socket })
    await puncher.start()
    stops.push(() => puncher.stop())
    const registry = new ConnectionRegistry(a2.publicKey, defaultLogger('test'))
    const registryB = new ConnectionRegistry(b.publicKey, defaultLogger('test'))
    b.addEventListener('connection', ({ detail }) => registryB.add(detail))
    const connector = new Connector({
      transport: a2,
      puncher,
      registry,
      publicKey: a2.publicKey,
      localNat: () => ({ nat: 'hard' }),
      log: defaultLogger('test'),
      directTimeoutMs: 300,
      upgradeBackoffMs: [400, 600],
    })
    connector.start()
    stops.push(() => connector.stop())
    const [x, y] = duplexPair()
    const [relayed, relayedB] = await Promise.all([
      a2.dialThrough(x, remote.publicKey, { topic }),
      b.acceptThrough(y),
    ])
    registryB.add(relayedB)
    expect(registry.add(relayed)).toBe(true)
    const hex = Buffer.from(remote.publicKey).toString('hex')
    const announce = (port: number): PeerFound => ({
      topic,
      via: 'mqtt',
      proof: 'signature',
      // Open: we dial it as announced (nobody listens at port 9).
      announcement: {
        key: remote.publicKey,
        addresses: [{ host: '127.0.0.1', port, kind: 'public' }],
        nat: 'open',
        timestamp: Date.now(),
        nonce: new Uint8Array(16),
      },
    })
    connector.onPeer(announce(9)) // looked at at once: the dial fails
    await waitUntil('three looks (one on the announcement, two on the timer)', () => {
      return (connector.info(hex)?.attempts ?? 0) >= 3
    })
    const info = connector.info(hex)!
    expect(info.tried).toEqual(['direct'])
    expect(info.failure).toMatch(/^dial 127\.0\.0\.1:9: no answer within 300 ms$/)
    expect(info.failures).toBe(0)
    expect(info.nextUpgradeAt).toBeGreaterThan(Date.now() - 50)
    expect(registry.get(hex)).toBe(relayed)
    expect(relayed.closeReason).toBeUndefined()
    // The peer announces where it listens: the next look dials it and the direct one wins.
    connector.onPeer(announce(b.address().port))
    await waitUntil('direct on both sides, the relayed one closed', () => {
      const live = registry.get(hex)
      return (
        live !== undefined &&
        registry.pathOf(live) === 'direct' &&
        registryB.get(Buffer.from(a2.publicKey).toString('hex'))?.carrier !== 'relay' &&
        relayed.closeReason !== undefined &&
        relayedB.closeReason !== undefined
      )
    })
    expect(connector.info(hex)!.used).toBe('direct')
    expect(connector.info(hex)!.nextUpgradeAt).toBeUndefined()
  }, 30_000)
})
