import { createSocket } from 'node:dgram'
import { createMdnsDiscovery, type MdnsDiscovery } from '@harddrive-party/discovery'
import {
  createTestIdentity,
  testTopicKeys,
  waitForGone,
  waitForPeer,
} from '@harddrive-party/discovery/testing'
import { equalBytes, MDNS_SERVICE_TYPE } from '@harddrive-party/wire-protocol/internal'
import makeMdns from 'multicast-dns'
import { afterEach, describe, expect, it } from 'vitest'
import { randomMdnsPort } from './helpers/mdns'

const cleanups: (() => Promise<unknown> | unknown)[] = []
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c()
})

function peer(mdnsPort: number, port: number, host?: string): MdnsDiscovery {
  const d = createMdnsDiscovery({
    identity: createTestIdentity(),
    interface: '127.0.0.1',
    port,
    mdnsPort,
    ...(host ? { host } : {}),
  })
  cleanups.push(() => d.stop())
  return d
}

/** A raw mDNS socket on the test's group, loopback only: the attacker and the observer. */
function rawMdns(mdnsPort: number) {
  const m = makeMdns({ port: mdnsPort, interface: '127.0.0.1', bind: '0.0.0.0' })
  cleanups.push(() => new Promise<void>((r) => m.destroy(() => r())))
  return m
}

type Records = { name: string; type: string; data: unknown; ttl?: number }[]

/** A peer's service records as it multicasts them (answers + additionals). */
function captureRecords(
  m: ReturnType<typeof makeMdns>,
  instance: string,
  capabilities: number,
): Promise<Records> {
  return new Promise((resolve) => {
    const onResponse = (packet: { answers: Records; additionals: Records }) => {
      const all = [...packet.answers, ...(packet.additionals ?? [])]
      const caps = txtStrings(all, instance).filter((s) => s.startsWith('cap='))
      if (caps.length === capabilities) {
        m.off('response', onResponse)
        resolve(all)
      }
    }
    m.on('response', onResponse)
    m.query({ questions: [{ name: MDNS_SERVICE_TYPE, type: 'PTR' }] })
  })
}

function txtStrings(records: Records, instance: string): string[] {
  const txt = records.find((r) => r.name === instance && r.type === 'TXT')
  return ((txt?.data ?? []) as Buffer[]).map((b) => b.toString())
}

async function until(check: () => boolean, timeoutMs: number, what: string): Promise<void> {
  const deadline = Date.now() + timeoutMs
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`)
    await new Promise((r) => setTimeout(r, 20))
  }
}

describe('mDNS discovery on loopback', () => {
  it('advertises SRV, TXT and A: one capability per joined topic, bound to key and endpoint', async () => {
    const mdnsPort = randomMdnsPort()
    const [t1, t2] = await Promise.all([testTopicKeys(), testTopicKeys()])
    const b = peer(mdnsPort, 4100)
    await b.start()
    await b.join(t1)
    await b.join(t2)
    const observer = rawMdns(mdnsPort)
    const records = await captureRecords(observer, b.instanceName!, 2)
    const srv = records.find((r) => r.type === 'SRV')?.data as { port: number; target: string }
    expect(srv.port).toBe(4100)
    expect(records.find((r) => r.type === 'A' && r.name === srv.target)?.data).toBe('127.0.0.1')
    const txt = txtStrings(records, b.instanceName!)
    expect(txt[0]).toBe('hdp=1')
    expect(txt.filter((s) => s.startsWith('cap='))).toHaveLength(2)
    // Nothing in the record names a topic: a non-member learns only that two are joined.
    for (const t of [t1, t2]) expect(txt.join(' ')).not.toContain(t.publicId.slice(0, 16))
  })

  it('rejects a capability replayed for another address or key; counts bad records and garbage', async () => {
    const mdnsPort = randomMdnsPort()
    const topic = await testTopicKeys()
    const a = peer(mdnsPort, 4200)
    const b = peer(mdnsPort, 4201)
    await a.start()
    await a.join(topic)
    await b.start()
    await b.join(topic)
    await waitForPeer(a, () => true)
    const evil = rawMdns(mdnsPort)
    const stolen = txtStrings(await captureRecords(evil, b.instanceName!, 1), b.instanceName!)
    const before = a.stats
    const advertise = (label: string, port: number, host: string, txt: string[]) =>
      evil.respond({
        answers: [
          { name: MDNS_SERVICE_TYPE, type: 'PTR', ttl: 120, data: `${label}.${MDNS_SERVICE_TYPE}` },
          {
            name: `${label}.${MDNS_SERVICE_TYPE}`,
            type: 'SRV',
            ttl: 120,
            data: { port, target: `${label}.local` },
          },
          { name: `${label}.${MDNS_SERVICE_TYPE}`, type: 'TXT', ttl: 120, data: txt },
          { name: `${label}.local`, type: 'A', ttl: 120, data: host },
        ],
      })
    // B's capabilities, advertised for the attacker's port, then for another address.
    advertise('evil1', 6666, '127.0.0.1', stolen)
    advertise('evil2', 4201, '127.0.0.66', stolen)
    // B's capabilities under the attacker's key.
    const evilKey = `key=${Buffer.from(createTestIdentity().publicKey).toString('hex')}`
    advertise(
      'evil3',
      4201,
      '127.0.0.1',
      stolen.map((s) => (s.startsWith('key=') ? evilKey : s)),
    )
    advertise('evil4', 4201, '127.0.0.1', ['no version here'])
    advertise('evil5', 4201, '127.0.0.1', ['hdp=2', evilKey])
    advertise('evil6', 4201, '127.0.0.1', ['hdp=1', 'key=zz'])
    // Not DNS at all.
    const raw = createSocket({ type: 'udp4', reuseAddr: true })
    cleanups.push(() => raw.close())
    raw.bind(0, '127.0.0.1')
    await new Promise((r) => raw.once('listening', r))
    raw.setMulticastInterface('127.0.0.1')
    for (let i = 0; i < 5; i++) raw.send(Buffer.from([0xff, i, 0xee]), mdnsPort, '224.0.0.251')

    await until(
      () => a.stats.rejected.malformed - before.rejected.malformed >= 5,
      5000,
      'the garbage to be counted',
    )
    await until(
      () => a.stats.received - before.received >= 6,
      5000,
      'the forged records to be checked',
    )
    const after = a.stats
    expect(after.rejected['unmatched-capability'] - before.rejected['unmatched-capability']).toBe(3)
    expect(after.rejected['bad-record'] - before.rejected['bad-record']).toBe(2)
    expect(after.rejected['unsupported-version'] - before.rejected['unsupported-version']).toBe(1)
    expect(after.accepted).toBe(before.accepted)
    expect(a.knownPeers().map((p) => p.announcement.addresses)).toEqual([
      [{ host: '127.0.0.1', port: 4201, kind: 'lan' }],
    ])
  })

  it('a non-member hears the record but can match nothing', async () => {
    const mdnsPort = randomMdnsPort()
    const [topic, other] = await Promise.all([testTopicKeys(), testTopicKeys()])
    const b = peer(mdnsPort, 4300)
    const outsider = peer(mdnsPort, 4301)
    await b.start()
    await b.join(topic)
    await outsider.start()
    await outsider.join(other)
    await until(
      () => outsider.stats.rejected['unmatched-capability'] >= 1,
      5000,
      "b's record to be heard",
    )
    expect(outsider.knownPeers()).toEqual([])
  })

  it('re-announces on join: a member of a newly joined topic finds us at once, and a stop says goodbye', async () => {
    const mdnsPort = randomMdnsPort()
    const [t1, t2] = await Promise.all([testTopicKeys(), testTopicKeys()])
    const a = peer(mdnsPort, 4400)
    const b = peer(mdnsPort, 4401)
    await a.start()
    await a.join(t2)
    await b.start()
    await b.join(t1)
    await until(() => a.stats.rejected['unmatched-capability'] >= 1, 5000, 'b heard')
    await b.join(t2)
    const found = await waitForPeer(a, () => true)
    expect(found).toMatchObject({ via: 'mdns', proof: 'capability', topic: t2 })
    expect(found.announcement.nat).toBe('unknown')
    expect(found.announcement.addresses).toEqual([{ host: '127.0.0.1', port: 4401, kind: 'lan' }])
    const gone = waitForGone(a, (g) => equalBytes(g.key, found.announcement.key))
    await b.stop()
    expect(await gone).toMatchObject({ reason: 'goodbye', topic: t2 })
  })

  it('refuses bad options and an interface it cannot use, with typed errors, sending nothing', async () => {
    const identity = createTestIdentity()
    const base = { identity, port: 4500, mdnsPort: randomMdnsPort() }
    expect(() => createMdnsDiscovery({ ...base, interface: 'eth0' })).toThrow(
      expect.objectContaining({ name: 'DiscoveryError', code: 'INVALID_OPTIONS' }),
    )
    expect(() => createMdnsDiscovery({ ...base, interface: '127.0.0.1', port: 0 })).toThrow(
      expect.objectContaining({ code: 'INVALID_OPTIONS' }),
    )
    expect(() =>
      createMdnsDiscovery({ ...base, interface: '127.0.0.1', recordTtlSeconds: 30 }),
    ).toThrow(expect.objectContaining({ code: 'INVALID_OPTIONS' }))
    // 203.0.113.0/24 (TEST-NET-3) is on no interface here: the group cannot be joined on it.
    const d = createMdnsDiscovery({ ...base, interface: '203.0.113.254' })
    await expect(d.start()).rejects.toMatchObject({
      name: 'DiscoveryError',
      code: 'MDNS_BIND_FAILED',
    })
    expect(d.instanceName).toBeUndefined()
  })
})
