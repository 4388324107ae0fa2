import { generateKeyPairSync } from 'node:crypto'
import { deriveTopicKeys, type TopicKeys } from '@harddrive-party/wire-protocol'
import { equalBytes } from '@harddrive-party/wire-protocol/internal'
import type { AbortOptions, Discovery, Identity, PeerFound, PeerGone } from './discovery'
import { randomHex } from './hex'

/** Cheap scrypt cost for tests. Every peer of a test must use the same. */
export const TEST_KDF = { N: 1024, r: 8, p: 1 } as const

/** A fresh ed25519 identity in libsodium form (seed ‖ public key). */
export function createTestIdentity(): Identity {
  const { privateKey } = generateKeyPairSync('ed25519')
  const jwk = privateKey.export({ format: 'jwk' })
  const seed = Buffer.from(jwk.d ?? '', 'base64url')
  const publicKey = new Uint8Array(Buffer.from(jwk.x ?? '', 'base64url'))
  const secretKey = new Uint8Array(64)
  secretKey.set(seed, 0)
  secretKey.set(publicKey, 32)
  return { publicKey, secretKey }
}

/** Topic keys with {@link TEST_KDF}; a random name unless one is given. */
export function testTopicKeys(name = `test topic ${randomHex(8)}`): Promise<TopicKeys> {
  return deriveTopicKeys(name, { kdf: TEST_KDF })
}

/** Resolves with the first peer (known or new) that `match` accepts; rejects after `timeoutMs`. */
export async function waitForPeer(
  discovery: Discovery,
  match: (peer: PeerFound) => boolean,
  options: AbortOptions & { timeoutMs?: number } = {},
): Promise<PeerFound> {
  const timeoutMs = options.timeoutMs ?? 10_000
  const signal = AbortSignal.any([
    AbortSignal.timeout(timeoutMs),
    ...(options.signal ? [options.signal] : []),
  ])
  try {
    for await (const peer of discovery.peers({ signal })) if (match(peer)) return peer
  } catch (err) {
    if ((err as Error)?.name === 'TimeoutError') {
      throw new Error(`no matching peer within ${timeoutMs} ms`, { cause: err })
    }
    throw err
  }
  throw new Error('peers() ended')
}

/** Resolves with the first `gone` event that `match` accepts; rejects after `timeoutMs`. */
export function waitForGone(
  discovery: Discovery,
  match: (gone: PeerGone) => boolean,
  options: { timeoutMs?: number } = {},
): Promise<PeerGone> {
  const timeoutMs = options.timeoutMs ?? 10_000
  return new Promise((resolve, reject) => {
    const onGone = (e: CustomEvent<PeerGone>) => {
      if (!match(e.detail)) return
      done()
      resolve(e.detail)
    }
    const timer = setTimeout(() => {
      done()
      reject(new Error(`no matching gone event within ${timeoutMs} ms`))
    }, timeoutMs)
    const done = () => {
      clearTimeout(timer)
      discovery.removeEventListener('gone', onGone)
    }
    discovery.addEventListener('gone', onGone)
  })
}

/** A peer-key matcher for {@link waitForPeer}. */
export function byKey(key: Uint8Array): (peer: PeerFound) => boolean {
  return (peer) => equalBytes(peer.announcement.key, key)
}
