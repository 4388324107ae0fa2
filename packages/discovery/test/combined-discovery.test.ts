import { createDiscovery, type PeerFound } from '@harddrive-party/discovery'
import { createTestIdentity, testTopicKeys, waitForPeer } from '@harddrive-party/discovery/testing'
import { equalBytes } from '@harddrive-party/wire-protocol/internal'
import { afterEach, describe, expect, it } from 'vitest'
import { randomMdnsPort } from './helpers/mdns'

const cleanups: (() => Promise<unknown>)[] = []
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c()
})

describe('createDiscovery (MQTT + mDNS)', () => {
  it('finds a peer both ways, each event saying its source and proof; one host serves the broker', async () => {
    const mdnsPort = randomMdnsPort()
    const topic = await testTopicKeys()
    const make = (port: number, mqtt: object) => {
      const identity = createTestIdentity()
      const d = createDiscovery({
        identity,
        getAnnouncement: () => ({
          addresses: [{ host: '198.51.100.4', port, kind: 'public' }],
          nat: 'easy',
        }),
        mqtt,
        mdns: { interface: '127.0.0.1', port, mdnsPort },
      })
      cleanups.push(() => d.stop())
      return { d, identity }
    }
    const a = make(4600, { embeddedBroker: true })
    await a.d.start()
    const b = make(4601, { brokerUrl: a.d.mqtt!.brokerUrl })
    await b.d.start()
    await a.d.join(topic)
    await b.d.join(topic)
    const fromB = (p: PeerFound) => equalBytes(p.announcement.key, b.identity.publicKey)
    const viaMqtt = await waitForPeer(a.d, (p) => fromB(p) && p.via === 'mqtt')
    const viaMdns = await waitForPeer(a.d, (p) => fromB(p) && p.via === 'mdns')
    expect(viaMqtt).toMatchObject({ proof: 'signature', topic })
    expect(viaMqtt.announcement.addresses).toEqual([
      { host: '198.51.100.4', port: 4601, kind: 'public' },
    ])
    expect(viaMdns).toMatchObject({ proof: 'capability', topic })
    expect(viaMdns.announcement.addresses).toEqual([{ host: '127.0.0.1', port: 4601, kind: 'lan' }])
    expect(a.d.stats.accepted).toBe(a.d.mqtt!.stats.accepted + a.d.mdns!.stats.accepted)
    expect(a.d.topics()).toEqual([topic])
  })

  it('starts all or nothing: an mDNS failure stops the MQTT half too', async () => {
    const d = createDiscovery({
      identity: createTestIdentity(),
      getAnnouncement: () => ({ addresses: [], nat: 'unknown' }),
      mqtt: { embeddedBroker: true },
      mdns: { interface: '203.0.113.254', port: 4700, mdnsPort: randomMdnsPort() },
    })
    cleanups.push(() => d.stop())
    await expect(d.start()).rejects.toMatchObject({ code: 'MDNS_BIND_FAILED' })
    expect(d.mqtt?.embeddedBroker?.address).toBeUndefined()
  })

  it('a join that one half refuses is undone in the other', async () => {
    let valid = true
    const d = createDiscovery({
      identity: createTestIdentity(),
      getAnnouncement: () => ({
        addresses: valid ? [] : [{ host: 'nope', port: 1, kind: 'lan' }],
        nat: 'unknown',
      }),
      mqtt: { brokerUrl: 'mqtt://127.0.0.1:1' },
      mdns: { interface: '127.0.0.1', port: 4800, mdnsPort: randomMdnsPort() },
    })
    valid = false
    await expect(d.join(await testTopicKeys())).rejects.toMatchObject({ code: 'BAD_ANNOUNCEMENT' })
    expect(d.mqtt!.topics()).toEqual([])
    expect(d.mdns!.topics()).toEqual([])
  })
})
