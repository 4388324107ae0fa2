import { sealAnnouncement } from '@harddrive-party/wire-protocol'
import { describe, expect, it } from 'vitest'
import { checkSealedAnnouncement } from '../src/announcement-check'
import { createTestIdentity, testTopicKeys } from '../src/testing'

describe('checkSealedAnnouncement', async () => {
  const topic = await testTopicKeys()
  const me = createTestIdentity()
  const them = createTestIdentity()
  const now = 1_800_000_000_000
  const window = { maxAgeMs: 300_000, maxClockSkewMs: 60_000, ownKey: me.publicKey, now }
  const sealed = (timestamp: number, who = them) =>
    sealAnnouncement(
      {
        key: who.publicKey,
        addresses: [{ host: '198.51.100.1', port: 1, kind: 'public' }],
        nat: 'open',
        timestamp,
        nonce: new Uint8Array(16),
      },
      topic,
      who.secretKey.subarray(0, 32),
    )

  it('accepts a fresh announcement inside the window, edges included', () => {
    expect(checkSealedAnnouncement(sealed(now), topic, window).ok).toBe(true)
    expect(checkSealedAnnouncement(sealed(now - 300_000), topic, window).ok).toBe(true)
    expect(checkSealedAnnouncement(sealed(now + 60_000), topic, window).ok).toBe(true)
  })

  it('names the reason for each refusal and never throws', () => {
    const reason = (p: Uint8Array) => {
      const r = checkSealedAnnouncement(p, topic, window)
      return r.ok ? 'ok' : r.reason
    }
    expect(reason(sealed(now - 300_001))).toBe('stale')
    expect(reason(sealed(now + 60_001))).toBe('from-future')
    expect(reason(sealed(now, me))).toBe('own')
    expect(reason(new Uint8Array(5000))).toBe('too-large')
    expect(reason(new Uint8Array(3))).toBe('malformed')
    expect(reason(new Uint8Array(100).fill(9))).toBe('unsupported-version')
    const tampered = sealed(now)
    tampered[50]! ^= 1
    expect(reason(tampered)).toBe('bad-seal')
  })
})
