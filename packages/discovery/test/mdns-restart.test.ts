// A stop while an answer to someone's query is still waiting for the response rate limit must
// not leave that answer "pending" forever: after a restart the peer has to answer queries again.
import { createMdnsDiscovery } from '@harddrive-party/discovery'
import { createTestIdentity, testTopicKeys } from '@harddrive-party/discovery/testing'
import { MDNS_SERVICE_TYPE } from '@harddrive-party/wire-protocol/internal'
import makeMdns from 'multicast-dns'
import { afterEach, expect, it } from 'vitest'
import { randomMdnsPort } from './helpers/mdns'

const cleanups: (() => Promise<unknown> | unknown)[] = []
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c()
})

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms))

it('answers queries again after a stop that cut a pending answer short', async () => {
  const mdnsPort = randomMdnsPort()
  const topic = await testTopicKeys()
  const peer = createMdnsDiscovery({
    identity: createTestIdentity(),
    interface: '127.0.0.1',
    port: 4700,
    mdnsPort,
    minResponseIntervalMs: 600,
  })
  cleanups.push(() => peer.stop())
  const raw = makeMdns({ port: mdnsPort, interface: '127.0.0.1', bind: '0.0.0.0' })
  cleanups.push(() => new Promise<void>((r) => raw.destroy(() => r())))
  const responses: number[] = []
  raw.on('response', (packet: { answers: { name: string; ttl?: number }[] }) => {
    const ours = packet.answers.some((a) => a.name === peer.instanceName && (a.ttl ?? 0) > 0)
    if (ours) responses.push(Date.now())
  })
  const ask = () => raw.query({ questions: [{ name: MDNS_SERVICE_TYPE, type: 'PTR' }] })

  await peer.start()
  await peer.join(topic)
  // The join announces at once, so this query's answer waits for the 600 ms rate limit...
  await sleep(100)
  ask()
  await sleep(50)
  // ...and the stop comes while it waits.
  await peer.stop()
  await peer.start()
  // Let the restart's two announcements (0 s and 1 s) pass, then ask once more.
  await sleep(1300)
  const asked = Date.now()
  ask()
  const deadline = asked + 3000
  while (!responses.some((t) => t >= asked) && Date.now() < deadline) await sleep(20)
  expect(responses.filter((t) => t >= asked).length).toBeGreaterThanOrEqual(1)
})
