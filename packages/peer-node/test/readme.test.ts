import { createPeerNode, type PeerConnectEvent } from '@harddrive-party/peer-node'
import { afterEach, describe, expect, it } from 'vitest'
import { Cleanup, TEST_KDF, useMosquitto } from './helpers'

const broker = useMosquitto()
const cleanup = new Cleanup()
afterEach(() => cleanup.run())

describe('README usage', () => {
  it('runs as written (with the test KDF)', async () => {
    const brokerUrl = broker.url
    const [aliceDir, bobDir] = [await cleanup.dir(), await cleanup.dir()]
    // --- README lines (plus topicKdf, a test-only cost) ---
    const options = {
      mqtt: { brokerUrl },
      host: '127.0.0.1',
      lanAddresses: ['127.0.0.1'],
      stunServers: [],
      topicKdf: TEST_KDF,
    }
    const alice = createPeerNode({ ...options, storageDir: aliceDir })
    const bob = createPeerNode({ ...options, storageDir: bobDir })
    cleanup.nodes.push(alice, bob)
    const connected = new Promise<CustomEvent<PeerConnectEvent>>((resolve) =>
      bob.addEventListener('peer:connect', resolve, { once: true }),
    )
    await Promise.all([alice.start(), bob.start()])
    await alice.join('movie night')
    await bob.join('movie night')
    const event = await connected

    const [peer] = bob.peers()
    const connection = bob.connection(peer!.hex)
    // --- end of README lines ---
    expect(event.detail.peer.name).toBe(alice.name)
    expect(peer!.name).toBe(alice.name)
    expect(peer!.connected).toBe(true)
    expect(['direct', 'accepted']).toContain(peer!.attempt?.used)
    expect(peer!.connection?.carrier).toMatch(/^(udx|tcp)$/)
    expect(connection?.remotePublicKey).toEqual(alice.publicKey)
    await Promise.all([alice.stop(), bob.stop()])
    expect(bob.connection(peer!.hex)).toBeUndefined()
  })
})
