import { hmac } from '@noble/hashes/hmac.js'
import { sha256 } from '@noble/hashes/sha2.js'
import { utf8ToBytes } from '@noble/hashes/utils.js'
import { concat, type TopicKeys } from './topic'

/**
 * Orders two public keys bytewise (as unsigned bytes, shorter first on a common prefix):
 * negative when `a` sorts first. Every rule about "the lower key" uses this order.
 */
export function compareKeys(a: Uint8Array, b: Uint8Array): number {
  const n = Math.min(a.length, b.length)
  for (let i = 0; i < n; i++) {
    if (a[i] !== b[i]) return a[i]! - b[i]!
  }
  return a.length - b.length
}

/**
 * The dialer rule: of two peers, the one with the lower public key dials; the other waits (and
 * punches when the technique needs both sides). False for our own key.
 */
export function isDialer(ourKey: Uint8Array, theirKey: Uint8Array): boolean {
  return compareKeys(ourKey, theirKey) < 0
}

const PUNCH_LABEL = utf8ToBytes('harddrive-party/1 punch')

/**
 * The secret both peers of a topic key their hole-punch packets with (holepunch's `secret`):
 * HMAC-SHA256(topic.proofKey, "harddrive-party/1 punch" ‖ 0x00 ‖ lower key ‖ higher key).
 * Only members of the topic can compute it, it differs per pair, and both sides get the same
 * bytes whoever computes it.
 */
export function derivePunchSecret(
  topic: Pick<TopicKeys, 'proofKey'>,
  keyA: Uint8Array,
  keyB: Uint8Array,
): Uint8Array {
  if (keyA.length !== 32 || keyB.length !== 32) {
    throw new TypeError('punch secret needs two 32-byte public keys')
  }
  const [low, high] = compareKeys(keyA, keyB) <= 0 ? [keyA, keyB] : [keyB, keyA]
  return hmac(sha256, topic.proofKey, concat(PUNCH_LABEL, new Uint8Array([0]), low, high))
}
