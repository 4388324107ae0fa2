import {
  type AnnouncedAddress,
  deriveTopicKeys,
  isWireError,
  openAnnouncement,
  sealAnnouncement,
} from '@harddrive-party/wire-protocol'
import {
  type AddressClass,
  classifyAddress,
  validateMdnsEndpoint,
} from '@harddrive-party/wire-protocol/internal'
import { ed25519 } from '@noble/curves/ed25519.js'
import { describe, expect, it } from 'vitest'

const topic = await deriveTopicKeys('address classes', { kdf: { N: 1024, r: 8, p: 1 } })
const seed = ed25519.utils.randomSecretKey()

/** Seals an announcement with these addresses (sealing checks nothing) and opens it. */
function roundTrip(addresses: AnnouncedAddress[]): unknown {
  const announcement = {
    key: ed25519.getPublicKey(seed),
    addresses,
    nat: 'easy' as const,
    timestamp: 1,
    nonce: new Uint8Array(16),
  }
  return openAnnouncement(sealAnnouncement(announcement, topic, seed), topic)
}

function codeOf(fn: () => unknown): string | undefined {
  try {
    fn()
  } catch (err) {
    if (isWireError(err)) return err.code
    throw err
  }
  return undefined
}

describe('classifyAddress', () => {
  const table: [string, AddressClass][] = [
    ['0.0.0.0', 'unspecified'],
    ['::', 'unspecified'],
    ['0.1.2.3', 'reserved'],
    ['127.0.0.1', 'loopback'],
    ['127.255.255.254', 'loopback'],
    ['::1', 'loopback'],
    ['::ffff:127.0.0.1', 'loopback'],
    ['224.0.0.251', 'multicast'],
    ['239.255.255.250', 'multicast'],
    ['ff02::fb', 'multicast'],
    ['255.255.255.255', 'broadcast'],
    ['169.254.169.254', 'link-local'],
    ['fe80::1', 'link-local'],
    ['febf::1', 'link-local'],
    ['10.0.0.1', 'private'],
    ['172.16.0.1', 'private'],
    ['172.31.255.255', 'private'],
    ['192.168.1.20', 'private'],
    ['100.64.0.1', 'private'],
    ['100.127.255.255', 'private'],
    ['fd12:3456::1', 'private'],
    ['fc00::1', 'private'],
    ['::ffff:10.1.2.3', 'private'],
    ['64:ff9b::a00:1', 'private'],
    ['192.0.2.1', 'documentation'],
    ['198.51.100.7', 'documentation'],
    ['203.0.113.7', 'documentation'],
    ['2001:db8::1', 'documentation'],
    ['192.0.0.8', 'reserved'],
    ['198.18.0.1', 'reserved'],
    ['240.0.0.1', 'reserved'],
    ['255.255.255.254', 'reserved'],
    ['fec0::1', 'reserved'],
    ['100::1', 'reserved'],
    ['::1.2.3.4', 'reserved'],
    ['8.8.8.8', 'global'],
    ['172.32.0.1', 'global'],
    ['100.128.0.1', 'global'],
    ['169.253.255.255', 'global'],
    ['2606:4700::1111', 'global'],
    ['::ffff:8.8.8.8', 'global'],
    ['64:ff9b::808:808', 'global'],
  ]
  it.each(table)('%s is %s', (host, cls) => {
    expect(classifyAddress(host)).toBe(cls)
  })

  it('refuses what is not an IP literal with BAD_FIELD', () => {
    for (const host of ['localhost', '1.2.3', '[::1]', 'fe80::1%eth0', ''])
      expect(codeOf(() => classifyAddress(host))).toBe('BAD_FIELD')
  })
})

describe('announced addresses by class', () => {
  it('issue 9.5: a public address must be global: loopback, unspecified, link-local, multicast, broadcast, private are refused', () => {
    for (const host of [
      '127.0.0.1',
      '0.0.0.0',
      '169.254.169.254',
      '224.0.0.251',
      '255.255.255.255',
      '::1',
      '::',
      'fe80::1',
      'ff02::1',
      '10.0.0.1',
      '192.168.1.1',
      '100.64.0.1',
      'fd00::1',
      '240.0.0.1',
      '::ffff:127.0.0.1',
    ]) {
      expect(
        codeOf(() => roundTrip([{ host, port: 22, kind: 'public' }])),
        host,
      ).toBe('BAD_ADDRESS')
    }
    expect(roundTrip([{ host: '8.8.8.8', port: 4000, kind: 'public' }])).toBeDefined()
    expect(roundTrip([{ host: '203.0.113.9', port: 0, kind: 'public' }])).toBeDefined()
    expect(roundTrip([{ host: '2606:4700::1', port: 4000, kind: 'public' }])).toBeDefined()
  })

  it('issue 9.5: a LAN address must be private or loopback, with a port', () => {
    for (const host of [
      '8.8.8.8',
      '203.0.113.7',
      '0.0.0.0',
      '169.254.1.1',
      '224.0.0.251',
      '255.255.255.255',
      'fe80::1',
      '2606:4700::1',
    ]) {
      expect(
        codeOf(() => roundTrip([{ host, port: 4000, kind: 'lan' }])),
        host,
      ).toBe('BAD_ADDRESS')
    }
    expect(codeOf(() => roundTrip([{ host: '10.0.0.1', port: 0, kind: 'lan' }]))).toBe(
      'BAD_ADDRESS',
    )
    for (const host of [
      '10.0.0.1',
      '172.20.1.1',
      '192.168.0.9',
      '100.100.0.1',
      'fd00::5',
      '127.0.0.1',
      '::1',
    ])
      expect(roundTrip([{ host, port: 4000, kind: 'lan' }])).toBeDefined()
  })

  it('issue 9.5: an mDNS endpoint (a LAN address) must be private or loopback', () => {
    const key = new Uint8Array(32)
    for (const host of ['8.8.8.8', '224.0.0.251', '169.254.0.1', '0.0.0.0'])
      expect(
        codeOf(() => validateMdnsEndpoint({ key, host, port: 4000 })),
        host,
      ).toBe('BAD_ADDRESS')
    expect(validateMdnsEndpoint({ key, host: '192.168.1.5', port: 4000 }).host).toBe('192.168.1.5')
    expect(validateMdnsEndpoint({ key, host: '127.0.0.1', port: 4000 }).host).toBe('127.0.0.1')
  })
})
