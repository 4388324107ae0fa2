import type { Announcement } from '@harddrive-party/wire-protocol'
import { describe, expect, it } from 'vitest'
import { announcementFingerprint, type PeerEntry, PeerTable } from '../src/peer-table'

const announcement = (port: number, timestamp = 1): Announcement => ({
  key: new Uint8Array(32).fill(1),
  addresses: [{ host: '198.51.100.1', port, kind: 'public' }],
  nat: 'easy',
  timestamp,
  nonce: new Uint8Array(16).fill(timestamp),
})

const entry = (
  keyHex: string,
  a: Announcement,
  origin = 's',
  expiresAt = 100,
): PeerEntry<string> => ({
  topicId: 't',
  keyHex,
  detail: keyHex,
  fingerprint: announcementFingerprint(a),
  timestamp: a.timestamp,
  nonce: String(a.timestamp),
  origin,
  expiresAt,
})

describe('PeerTable', () => {
  it('tells new, changed and refreshed apart; time and nonce are not a change', () => {
    const t = new PeerTable<string>()
    expect(t.upsert(entry('k', announcement(1, 1)))).toBe('new')
    expect(t.upsert(entry('k', announcement(1, 2)))).toBe('refreshed')
    expect(t.upsert(entry('k', announcement(2, 3)))).toBe('changed')
  })

  it('evicts the peer heard from least recently when a topic is full', () => {
    const t = new PeerTable<string>(2)
    t.upsert(entry('a', announcement(1)))
    t.upsert(entry('b', announcement(1)))
    t.upsert(entry('a', announcement(1, 2)))
    t.upsert(entry('c', announcement(1)))
    expect(
      t
        .entries('t')
        .map((e) => e.keyHex)
        .sort(),
    ).toEqual(['a', 'c'])
  })

  it('finds entries by origin and expires them', () => {
    const t = new PeerTable<string>()
    t.upsert(entry('a', announcement(1), 'slot1', 50))
    t.upsert(entry('b', announcement(1), 'slot2', 150))
    expect(t.byOrigin('slot2').map((e) => e.keyHex)).toEqual(['b'])
    expect(t.expire(100).map((e) => e.keyHex)).toEqual(['a'])
    expect(t.entries().map((e) => e.keyHex)).toEqual(['b'])
  })
})
