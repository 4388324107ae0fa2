import { createHash } from 'node:crypto'
import { ed25519 } from '@noble/curves/ed25519.js'
import { describe, expect, it } from 'vitest'
import { isWireError, sealAnnouncement } from '../src/index'
import {
  type ConnectRequest,
  connectInbox,
  openConnectRequest,
  sealConnectRequest,
} from '../src/internal'

// The vector of docs/protocol.md §6.2.
const seed = new Uint8Array(32).fill(3)
const from = ed25519.getPublicKey(seed)
const to = new Uint8Array(32).fill(4)
const topic = { publicId: '11'.repeat(32), sealKey: new Uint8Array(32).fill(0x22) }
const request: ConnectRequest = {
  from,
  to,
  addresses: [{ host: '203.0.113.7', port: 4000, kind: 'public' }],
  nat: 'easy',
  timestamp: 1_700_000_000_000,
  nonce: new Uint8Array(16).fill(6),
}
const sealed = () => sealConnectRequest(request, topic, seed, new Uint8Array(24).fill(5))
const sha = (u: Uint8Array) => createHash('sha256').update(u).digest('hex')
const code = (fn: () => unknown) => {
  try {
    fn()
  } catch (err) {
    return isWireError(err) ? err.code : `not a WireError: ${err}`
  }
  return 'no error'
}

describe('connect request', () => {
  it('matches the vector and opens for its recipient', () => {
    const bytes = sealed()
    expect(bytes.length).toBe(553)
    expect(bytes[0]).toBe(2)
    expect(sha(bytes)).toBe('02a5e04f80dae25a68bcfa3c8fa42a111bddd7bb01c506d9cf3844bd9e17c38d')
    expect(connectInbox(topic, to)).toBe('65bd49a7ee68a59647356f144a739bde')
    const opened = openConnectRequest(bytes, topic, to)
    expect(opened).toEqual(request)
  })

  it('refuses another recipient, another topic, a tampered byte, a bad signature, an announcement', () => {
    const bytes = sealed()
    expect(code(() => openConnectRequest(bytes, topic, new Uint8Array(32).fill(9)))).toBe(
      'BAD_SEAL',
    )
    const otherTopic = { publicId: '12'.repeat(32), sealKey: topic.sealKey }
    expect(code(() => openConnectRequest(bytes, otherTopic, to))).toBe('BAD_SEAL')
    const tampered = bytes.slice()
    tampered[100] = tampered[100]! ^ 1
    expect(code(() => openConnectRequest(tampered, topic, to))).toBe('BAD_SEAL')
    // Signed by another key than `from` claims.
    const forged = sealConnectRequest(request, topic, new Uint8Array(32).fill(7))
    expect(code(() => openConnectRequest(forged, topic, to))).toBe('BAD_SIGNATURE')
    const announcement = sealAnnouncement(
      { key: from, addresses: [], nat: 'easy', timestamp: 1, nonce: new Uint8Array(16) },
      topic,
      seed,
    )
    expect(code(() => openConnectRequest(announcement, topic, to))).toBe('UNSUPPORTED_VERSION')
    expect(code(() => openConnectRequest(new Uint8Array(5000), topic, to))).toBe('FRAME_TOO_LARGE')
    expect(code(() => openConnectRequest(new Uint8Array(10), topic, to))).toBe('MALFORMED')
    // A request to oneself is refused even when sealed correctly.
    const self = sealConnectRequest({ ...request, to: from }, topic, seed)
    expect(code(() => openConnectRequest(self, topic, from))).toBe('BAD_FIELD')
  })

  it('inboxes differ per topic and per peer, and have the shape of an announcement slot', () => {
    const a = connectInbox(topic, to)
    expect(a).toMatch(/^[0-9a-f]{32}$/)
    expect(connectInbox(topic, from)).not.toBe(a)
    expect(connectInbox({ publicId: '12'.repeat(32) }, to)).not.toBe(a)
  })
})
