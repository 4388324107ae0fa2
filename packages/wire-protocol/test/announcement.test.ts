import {
  type Announcement,
  deriveTopicKeys,
  isHdpError,
  openAnnouncement,
  sealAnnouncement,
} from '@harddrive-party/wire-protocol'
import {
  createHelloProof,
  createMdnsCapability,
  decodeMdnsRecord,
  encodeMdnsRecord,
  matchMdnsCapabilities,
  verifyHelloProof,
} from '@harddrive-party/wire-protocol/internal'
import { ed25519 } from '@noble/curves/ed25519.js'
import { beforeAll, describe, expect, it } from 'vitest'

const fast = { kdf: { N: 1024, r: 8, p: 1 } }
const seed = ed25519.utils.randomSecretKey()
const key = ed25519.getPublicKey(seed)
const announcement = (): Announcement => ({
  key,
  addresses: [{ host: '10.0.0.5', port: 40000, kind: 'lan' }],
  nat: 'hard',
  portAllocation: 'random',
  timestamp: Date.now(),
  nonce: crypto.getRandomValues(new Uint8Array(16)),
})
let topic: Awaited<ReturnType<typeof deriveTopicKeys>>
let other: Awaited<ReturnType<typeof deriveTopicKeys>>

beforeAll(async () => {
  topic = await deriveTopicKeys('movie night', fast)
  other = await deriveTopicKeys('movie night ', fast)
})

const codeOf = (fn: () => unknown) => {
  try {
    fn()
  } catch (err) {
    expect(isHdpError(err)).toBe(true)
    return (err as { code: string }).code
  }
  return 'no error'
}

describe('topic keys', () => {
  it('are deterministic per name and unrelated across names', async () => {
    const again = await deriveTopicKeys('movie night', fast)
    expect(again.publicId).toBe(topic.publicId)
    expect(other.publicId).not.toBe(topic.publicId)
    expect(topic.publicId).toMatch(/^[0-9a-f]{64}$/)
    expect(
      new Set(
        [topic.sealKey, topic.proofKey, topic.mdnsKey].map((k) => Buffer.from(k).toString('hex')),
      ).size,
    ).toBe(3)
  })

  it('refuse empty, control-character and aborted derivations', async () => {
    await expect(deriveTopicKeys('', fast)).rejects.toMatchObject({ code: 'BAD_FIELD' })
    await expect(deriveTopicKeys('a\nb', fast)).rejects.toMatchObject({ code: 'BAD_FIELD' })
    await expect(
      deriveTopicKeys('x', { ...fast, signal: AbortSignal.abort() }),
    ).rejects.toMatchObject({ name: 'AbortError' })
  })
})

describe('sealed announcements', () => {
  it('round-trip', () => {
    const a = announcement()
    expect(openAnnouncement(sealAnnouncement(a, topic, seed), topic)).toEqual(a)
  })

  it('are padded so their size does not tell peers apart', () => {
    const one = sealAnnouncement(announcement(), topic, seed)
    // Same peer, another topic where it announces a longer address: same size on the broker.
    const longer = sealAnnouncement(
      {
        ...announcement(),
        addresses: [{ host: '203.0.113.200', port: 65535, kind: 'public', tcp: true }],
      },
      topic,
      seed,
    )
    const overhead = 1 + 24 + 16 // format byte, nonce, tag
    expect((one.length - overhead) % 256).toBe(0)
    expect(longer.length).toBe(one.length)
  })

  it('do not open with another topic, and tampering is detected', () => {
    const sealed = sealAnnouncement(announcement(), topic, seed)
    expect(codeOf(() => openAnnouncement(sealed, other))).toBe('BAD_SEAL')
    const flipped = sealed.slice()
    flipped[flipped.length - 20]! ^= 1
    expect(codeOf(() => openAnnouncement(flipped, topic))).toBe('BAD_SEAL')
    expect(codeOf(() => openAnnouncement(sealed.subarray(0, 30), topic))).toBe('MALFORMED')
    const future = sealed.slice()
    future[0] = 2
    expect(codeOf(() => openAnnouncement(future, topic))).toBe('UNSUPPORTED_VERSION')
    expect(codeOf(() => openAnnouncement(new Uint8Array(5000), topic))).toBe('FRAME_TOO_LARGE')
  })

  it('are refused when the key in them did not sign them', () => {
    const impostor = ed25519.utils.randomSecretKey()
    const sealed = sealAnnouncement(announcement(), topic, impostor) // claims `key`, signed by another
    expect(codeOf(() => openAnnouncement(sealed, topic))).toBe('BAD_SIGNATURE')
  })

  it('refuse bad addresses before sealing is trusted', () => {
    const a = {
      ...announcement(),
      addresses: [{ host: 'example.com', port: 1, kind: 'lan' as const }],
    }
    expect(codeOf(() => openAnnouncement(sealAnnouncement(a, topic, seed), topic))).toBe(
      'BAD_FIELD',
    )
  })
})

describe('hello proofs', () => {
  const dialerKey = new Uint8Array(32).fill(1)
  const acceptorKey = new Uint8Array(32).fill(2)
  const binding = new Uint8Array(32).fill(3)

  it('match only the same topic, role, keys and session', () => {
    const proof = createHelloProof(topic, { role: 'dialer', dialerKey, acceptorKey, binding })
    expect(
      verifyHelloProof([other, topic], proof, { role: 'dialer', dialerKey, acceptorKey, binding }),
    ).toBe(topic)
    expect(
      verifyHelloProof([other], proof, { role: 'dialer', dialerKey, acceptorKey, binding }),
    ).toBeUndefined()
    expect(
      verifyHelloProof([topic], proof, { role: 'acceptor', dialerKey, acceptorKey, binding }),
    ).toBeUndefined()
    expect(
      verifyHelloProof([topic], proof, {
        role: 'dialer',
        dialerKey: acceptorKey,
        acceptorKey: dialerKey,
        binding,
      }),
    ).toBeUndefined()
    expect(
      verifyHelloProof([topic], proof, {
        role: 'dialer',
        dialerKey,
        acceptorKey,
        binding: new Uint8Array(32),
      }),
    ).toBeUndefined()
  })
})

describe('mDNS capability records', () => {
  const endpoint = { key, host: '192.168.1.9', port: 47000 }

  it('prove membership only for the advertised key, host and port', () => {
    const cap = createMdnsCapability(topic, endpoint)
    const record = decodeMdnsRecord(encodeMdnsRecord({ version: 1, key, capabilities: [cap] }))
    expect(matchMdnsCapabilities([other, topic], record.capabilities, endpoint)).toEqual([topic])
    expect(
      matchMdnsCapabilities([topic], record.capabilities, { ...endpoint, host: '192.168.1.10' }),
    ).toEqual([])
    expect(
      matchMdnsCapabilities([topic], record.capabilities, { ...endpoint, port: 47001 }),
    ).toEqual([])
    expect(
      matchMdnsCapabilities([topic], record.capabilities, { ...endpoint, key: new Uint8Array(32) }),
    ).toEqual([])
  })

  it('refuse malformed TXT records', () => {
    expect(codeOf(() => decodeMdnsRecord(['key=00']))).toBe('BAD_FIELD')
    expect(codeOf(() => decodeMdnsRecord(['hdp=2', `key=${'00'.repeat(32)}`]))).toBe(
      'UNSUPPORTED_VERSION',
    )
    expect(codeOf(() => decodeMdnsRecord(['hdp=1', 'key=zz']))).toBe('BAD_FIELD')
    expect(
      codeOf(() =>
        decodeMdnsRecord([
          'hdp=1',
          `key=${'00'.repeat(32)}`,
          ...Array(33).fill(`cap=${'00'.repeat(16)}`),
        ]),
      ),
    ).toBe('BAD_FIELD')
  })
})
