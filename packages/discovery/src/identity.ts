import { equalBytes } from '@harddrive-party/wire-protocol/internal'
import type { Identity } from './discovery'
import { DiscoveryError } from './errors'

/** Checks the libsodium shape: 32-byte public key, 64-byte secret key ending in the public key. */
export function validateIdentity(identity: Identity): Identity {
  const ok =
    identity?.publicKey instanceof Uint8Array &&
    identity.secretKey instanceof Uint8Array &&
    identity.publicKey.length === 32 &&
    identity.secretKey.length === 64 &&
    equalBytes(identity.secretKey.subarray(32), identity.publicKey)
  if (!ok) {
    throw new DiscoveryError(
      'INVALID_OPTIONS',
      'identity must be { publicKey: 32 bytes, secretKey: 64 bytes = seed ‖ publicKey }',
    )
  }
  return identity
}

/** The 32-byte ed25519 seed that `sealAnnouncement` signs with. */
export function seedOf(identity: Identity): Uint8Array {
  return identity.secretKey.subarray(0, 32)
}
