import { createMdnsDiscovery } from '@harddrive-party/discovery'
import { discoveryCompliance } from '@harddrive-party/discovery/testing'
import { randomMdnsPort } from './helpers/mdns'

// Loopback only: `interface: '127.0.0.1'` keeps every packet on this machine, and a random
// group port per test keeps tests (and other projects' tests) from hearing each other.
discoveryCompliance('mDNS on loopback', () => {
  const mdnsPort = randomMdnsPort()
  return {
    create: (peer) =>
      createMdnsDiscovery({
        identity: peer.identity,
        interface: '127.0.0.1',
        port: peer.port,
        mdnsPort,
      }),
  }
})
