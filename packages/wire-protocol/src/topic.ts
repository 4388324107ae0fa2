import { hkdf } from '@noble/hashes/hkdf.js'
import { hmac } from '@noble/hashes/hmac.js'
import { scryptAsync } from '@noble/hashes/scrypt.js'
import { sha256 } from '@noble/hashes/sha2.js'
import { bytesToHex, utf8ToBytes } from '@noble/hashes/utils.js'
import { hasControlChar } from './check'
import { WireError } from './errors'
import { MAX_TEXT_CHARS } from './limits'

/**
 * Everything a topic name is turned into. Derive once per join: the KDF is slow on purpose.
 * Only `publicId` is ever shown to anyone (it names the MQTT topic); the keys stay local.
 */
export interface TopicKeys {
  /** The topic name as the user typed it. */
  readonly name: string
  /** Hex string naming the topic in public places (MQTT topic). Reveals nothing of `name`. */
  readonly publicId: string
  /** XChaCha20-Poly1305 key sealing announcements. */
  readonly sealKey: Uint8Array
  /** HMAC key for the hello proof of membership. */
  readonly proofKey: Uint8Array
  /** HMAC key for mDNS capability records. */
  readonly mdnsKey: Uint8Array
}

/**
 * scrypt cost parameters. N = 2^16, r = 8 needs 64 MiB and ~0.5 s in JavaScript on a 2 GHz
 * core, so guessing a low-entropy topic name costs an attacker the same per guess.
 */
export const TOPIC_KDF = { N: 2 ** 16, r: 8, p: 1, dkLen: 32 } as const
const TOPIC_SALT = utf8ToBytes('harddrive-party/1 topic')

export interface DeriveTopicOptions {
  /** Override the scrypt cost (tests only; every peer of a topic must use the same). */
  kdf?: { N: number; r: number; p: number }
  signal?: AbortSignal
}

/** Derives a topic's public id and keys from its name (scrypt, then HKDF-SHA256). */
export async function deriveTopicKeys(
  name: string,
  options: DeriveTopicOptions = {},
): Promise<TopicKeys> {
  validateTopicName(name)
  options.signal?.throwIfAborted()
  const kdf = { ...TOPIC_KDF, ...options.kdf, dkLen: 32 }
  const root = await scryptAsync(utf8ToBytes(name.normalize('NFC')), TOPIC_SALT, kdf)
  options.signal?.throwIfAborted()
  const sub = (info: string) =>
    hkdf(sha256, root, undefined, utf8ToBytes(`harddrive-party/1 ${info}`), 32)
  return {
    name,
    publicId: bytesToHex(sub('public id')),
    sealKey: sub('seal'),
    proofKey: sub('hello proof'),
    mdnsKey: sub('mdns capability'),
  }
}

/** A topic name is any non-empty text of at most 1024 characters without control characters. */
export function validateTopicName(name: unknown): string {
  if (typeof name !== 'string' || name.length === 0) {
    throw new WireError('BAD_FIELD', 'topic name must be a non-empty string')
  }
  if (name.length > MAX_TEXT_CHARS) {
    throw new WireError('BAD_FIELD', `topic name is longer than ${MAX_TEXT_CHARS} characters`)
  }
  if (hasControlChar(name)) {
    throw new WireError('BAD_FIELD', 'topic name contains a control character')
  }
  return name
}

export type HelloRole = 'dialer' | 'acceptor'

export interface HelloProofInput {
  role: HelloRole
  /** ed25519 public key of the side that dialled. */
  dialerKey: Uint8Array
  /** ed25519 public key of the side that accepted. */
  acceptorKey: Uint8Array
  /**
   * Bytes unique to this encrypted session (the Noise handshake hash), so a proof cannot be
   * replayed into another session between the same two keys. Empty when there is none.
   */
  binding: Uint8Array
}

/**
 * Proof that the sender knows the topic, bound to both peers' keys, to its role (so a proof
 * cannot be reflected back) and to the session. HMAC-SHA256 under the topic's proof key.
 */
export function createHelloProof(
  topic: Pick<TopicKeys, 'proofKey'>,
  input: HelloProofInput,
): Uint8Array {
  if (input.dialerKey.length !== 32 || input.acceptorKey.length !== 32) {
    throw new TypeError('hello proof needs two 32-byte public keys')
  }
  const role = utf8ToBytes(`harddrive-party/1 hello ${input.role}`)
  return hmac(
    sha256,
    topic.proofKey,
    concat(role, input.dialerKey, input.acceptorKey, input.binding),
  )
}

/** Returns the first topic whose proof matches, or `undefined`. Constant time per topic. */
export function verifyHelloProof<T extends Pick<TopicKeys, 'proofKey'>>(
  topics: Iterable<T>,
  proof: Uint8Array,
  input: HelloProofInput,
): T | undefined {
  for (const topic of topics) {
    if (equalBytes(createHelloProof(topic, input), proof)) return topic
  }
  return undefined
}

export function concat(...parts: Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0))
  let at = 0
  for (const p of parts) {
    out.set(p, at)
    at += p.length
  }
  return out
}

/** Constant-time comparison of two byte arrays. */
export function equalBytes(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false
  let diff = 0
  for (let i = 0; i < a.length; i++) diff |= a[i]! ^ b[i]!
  return diff === 0
}
