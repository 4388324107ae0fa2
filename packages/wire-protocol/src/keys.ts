import { ed25519 } from '@noble/curves/ed25519.js'

/**
 * The ed25519 public key (32 bytes) of a 32-byte seed: the `key` an announcement carries when
 * {@link sealAnnouncement} signs it with that seed. Any 32 random bytes are a valid seed, so a
 * caller needs no curve library of its own.
 */
export function publicKeyFromSeed(seed: Uint8Array): Uint8Array {
  if (!(seed instanceof Uint8Array) || seed.length !== 32) {
    throw new TypeError('an ed25519 seed is 32 bytes')
  }
  return ed25519.getPublicKey(seed)
}
