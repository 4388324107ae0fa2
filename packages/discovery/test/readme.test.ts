// The README's usage example, line for line, against real parts: the shared mosquitto instead
// of 127.0.0.1:1883, mDNS on loopback on a private group port, and a friend to be found.
import { createDiscovery, deriveTopicKeys } from '@harddrive-party/discovery'
import { createTestIdentity } from '@harddrive-party/discovery/testing'
import { expect, inject, it } from 'vitest'
import { randomMdnsPort } from './helpers/mdns'

it('README usage example', async () => {
  const brokerUrl = inject('mosquittoUrl')
  const mdnsPort = randomMdnsPort()
  const lines: unknown[][] = []
  const console = {
    log: (...args: unknown[]) => lines.push(args),
    error: (..._args: unknown[]) => undefined,
  }
  const friend = createDiscovery({
    identity: createTestIdentity(),
    getAnnouncement: () => ({
      addresses: [{ host: '203.0.113.8', port: 4001, kind: 'public' }],
      nat: 'hard',
    }),
    mqtt: { brokerUrl },
    mdns: { interface: '127.0.0.1', port: 4001, mdnsPort },
  })
  await friend.start()
  await friend.join(await deriveTopicKeys('our secret topic'))
  const identity = createTestIdentity()

  // --- README ---
  const discovery = createDiscovery({
    identity, // { publicKey, secretKey }: the transport's ed25519 key pair
    getAnnouncement: () => ({
      addresses: [{ host: '203.0.113.7', port: 4000, kind: 'public' }],
      nat: 'easy',
    }),
    mqtt: { brokerUrl },
    mdns: { interface: '127.0.0.1', port: 4000, mdnsPort }, // your LAN address in real life
  })
  discovery.addEventListener('status', ({ detail }) => console.error(detail.message))
  await discovery.start()
  await discovery.join(await deriveTopicKeys('our secret topic'))
  try {
    for await (const peer of discovery.peers({ signal: AbortSignal.timeout(10_000) })) {
      console.log(peer.via, peer.proof, peer.announcement.addresses)
      break // or keep listening
    }
  } catch (err) {
    if ((err as Error).name !== 'TimeoutError') throw err
    console.log('no peer announced itself on this topic within 10 s')
  }
  await discovery.stop()
  // --- end ---

  await friend.stop()
  expect(lines).toHaveLength(1)
  const [via, proof, addresses] = lines[0]!
  // Whichever source was first: MQTT carries the signed public address, mDNS the LAN one.
  const expected = {
    mqtt: ['signature', [{ host: '203.0.113.8', port: 4001, kind: 'public' }]],
    mdns: ['capability', [{ host: '127.0.0.1', port: 4001, kind: 'lan' }]],
  }
  expect([proof, addresses]).toEqual(expected[via as keyof typeof expected])
})
