import { createMqttDiscovery } from '@harddrive-party/discovery'
import { createTestIdentity, testTopicKeys, waitForPeer } from '@harddrive-party/discovery/testing'
import type { NatReport } from '@harddrive-party/holepunch'
import { hasCoturn, startStunServer } from '@harddrive-party/test-lab'
import { afterEach, describe, expect, it } from 'vitest'
import { Cleanup, connectedTo, loopbackOptions, useMosquitto, waitUntil } from './helpers'

const broker = useMosquitto()
const cleanup = new Cleanup()
const stops: Array<() => Promise<unknown>> = []
afterEach(async () => {
  await cleanup.run()
  for (const stop of stops.splice(0)) await stop()
})

const coturn = hasCoturn()
if (!coturn) console.warn('peer-node announce test: coturn (turnserver) is not installed, skipped')

describe('what we announce', () => {
  it.skipIf(!coturn)(
    'NAT from STUN at start; when it changes the node emits `nat` and re-announces',
    async () => {
      const stun = await startStunServer({ dir: await cleanup.dir() })
      stops.push(() => stun.stop())
      const node = cleanup.node(
        loopbackOptions(await cleanup.dir(), broker.url, {
          stunServers: stun.endpoints.map((e) => `${e.host}:${e.port}`),
          natTimeoutMs: 1000,
          natRecheckMs: 300,
        }),
      )
      const reports: NatReport[] = []
      node.addEventListener('nat', ({ detail }) => reports.push(detail))
      await node.start()
      // coturn on 127.0.0.1 and 127.0.0.2 sees our own address and port: no NAT.
      expect(node.nat.nat).toBe('open')
      await node.join('who are you')

      // A bare discovery client on the same topic watches what the node announces.
      const watcher = createMqttDiscovery({
        identity: createTestIdentity(),
        getAnnouncement: () => ({ addresses: [], nat: 'unknown' }),
        brokerUrl: broker.url,
      })
      stops.push(() => watcher.stop())
      await watcher.start()
      await watcher.join(await testTopicKeys('who are you'))
      const key = Buffer.from(node.publicKey).toString('hex')
      const isNode = (nat: string) => (p: { announcement: { key: Uint8Array; nat: string } }) =>
        Buffer.from(p.announcement.key).toString('hex') === key && p.announcement.nat === nat
      const first = await waitForPeer(watcher, isNode('open'))
      expect(first.announcement.addresses).toEqual([
        { host: '127.0.0.1', port: node.address().port, kind: 'lan', tcp: true },
      ])

      await stun.stop() // STUN gone: the next check says unknown
      await waitForPeer(watcher, isNode('unknown'), { timeoutMs: 15_000 })
      expect(reports.at(-1)?.nat).toBe('unknown')
      expect(node.nat.reason).toMatch(/no STUN server answered/)
    },
    30_000,
  )

  it('without any STUN server the NAT is unknown and start does not wait for one', async () => {
    const node = cleanup.node(
      loopbackOptions(await cleanup.dir(), broker.url, {
        // Nothing answers on these ports: detection times out, start goes on.
        stunServers: ['127.0.0.1:9', '127.0.0.2:9'],
        natTimeoutMs: 800,
      }),
    )
    const started = Date.now()
    await node.start()
    expect(Date.now() - started).toBeLessThan(8000) // one 800 ms detection, with room for a loaded machine
    expect(node.nat.nat).toBe('unknown')
  })

  it('mDNS only (no broker): two peers on loopback find each other and dial the LAN address', async () => {
    const mdnsPort = 20_000 + Math.floor(Math.random() * 30_000)
    const mdns = { interface: '127.0.0.1', mdnsPort }
    const [a, b] = [
      cleanup.node(loopbackOptions(await cleanup.dir(), broker.url, { mqtt: false, mdns })),
      cleanup.node(loopbackOptions(await cleanup.dir(), broker.url, { mqtt: false, mdns })),
    ]
    await Promise.all([a!.start(), b!.start()])
    await a!.join('on the lan')
    await b!.join('on the lan')
    await waitUntil(
      'connected over mDNS',
      () => connectedTo(a!).length === 1 && connectedTo(b!).length === 1,
    )
    const dialer = a!.peers()[0]!.connection?.initiator ? a! : b!
    const seen = dialer.peers()[0]!
    expect(seen.announcedVia).toEqual(['mdns'])
    expect(seen.attempt?.used).toBe('lan')
    expect(seen.attempt?.theirNat).toBe('unknown')
  }, 30_000)
})
