import { xchacha20poly1305 } from '@noble/ciphers/chacha.js'
import { ed25519 } from '@noble/curves/ed25519.js'
import { sha256 } from '@noble/hashes/sha2.js'
import { bytesToHex, hexToBytes, randomBytes, utf8ToBytes } from '@noble/hashes/utils.js'
import { type Announcement, announcementFromWire, announcementToWire, padded } from './announcement'
import { decodeCbor, encodeCbor } from './cbor'
import { asFields, bytes } from './check'
import { WireError } from './errors'
import { MAX_ANNOUNCEMENT_BYTES } from './limits'
import { concat, equalBytes, type TopicKeys } from './topic'

/**
 * "Punch now": one member asks another, through the topic's discovery channel, to start its
 * side of a hole punch at once (a reconnect, where no new announcement would bring both sides
 * together). It carries the sender's fresh addresses and NAT like an announcement, plus the
 * recipient. Signed by the sender, sealed for the topic, and bound to the recipient.
 */
export interface ConnectRequest extends Omit<Announcement, 'key'> {
  /** The sender's ed25519 public key. */
  from: Uint8Array
  /** The recipient's public key. */
  to: Uint8Array
}

/** First byte of a sealed connect request (announcements use 1). */
export const CONNECT_REQUEST_FORMAT = 2
const NONCE_BYTES = 24
const SIGN_CONTEXT = utf8ToBytes('harddrive-party/1 connect\0')
const INBOX_LABEL = utf8ToBytes('harddrive-party/1 inbox\0')

/**
 * The 32 hex characters naming a peer's inbox slot in a topic (the same shape as an
 * announcement slot): first 16 bytes of SHA-256(label ‖ topic id ‖ key).
 */
export function connectInbox(topic: Pick<TopicKeys, 'publicId'>, key: Uint8Array): string {
  if (key.length !== 32) throw new TypeError('inbox of a 32-byte public key')
  return bytesToHex(sha256(concat(INBOX_LABEL, hexToBytes(topic.publicId), key)).subarray(0, 16))
}

/** Signs (with the sender's seed) and seals a connect request for `request.to`. */
export function sealConnectRequest(
  request: ConnectRequest,
  topic: Pick<TopicKeys, 'publicId' | 'sealKey'>,
  secretKey: Uint8Array,
  nonce: Uint8Array = randomBytes(NONCE_BYTES),
): Uint8Array {
  if (request.to.length !== 32) throw new TypeError('connect request `to` must be 32 bytes')
  const { from, to, ...rest } = request
  const body = encodeCbor({ ...announcementToWire({ ...rest, key: from }), to })
  const topicId = hexToBytes(topic.publicId)
  const sig = ed25519.sign(concat(SIGN_CONTEXT, topicId, body), secretKey)
  const aad = concat(topicId, to)
  const sealed = xchacha20poly1305(topic.sealKey, nonce, aad).encrypt(padded(body, sig))
  const out = concat(new Uint8Array([CONNECT_REQUEST_FORMAT]), nonce, sealed)
  if (out.length > MAX_ANNOUNCEMENT_BYTES) {
    throw new WireError('FRAME_TOO_LARGE', `connect request is ${out.length} bytes`)
  }
  return out
}

/**
 * Opens a connect request addressed to `ourKey`: size, format, the seal (topic key, bound to
 * the recipient), the fields and the sender's signature. `BAD_SEAL` when it is for another
 * topic or another recipient. Freshness, replays and rate limits are the caller's.
 */
export function openConnectRequest(
  sealed: Uint8Array,
  topic: Pick<TopicKeys, 'publicId' | 'sealKey'>,
  ourKey: Uint8Array,
): ConnectRequest {
  if (!(sealed instanceof Uint8Array)) throw new WireError('MALFORMED', 'request is not bytes')
  if (sealed.length > MAX_ANNOUNCEMENT_BYTES) {
    throw new WireError('FRAME_TOO_LARGE', `connect request of ${sealed.length} bytes`)
  }
  if (sealed.length < 1 + NONCE_BYTES + 16) throw new WireError('MALFORMED', 'request too short')
  if (sealed[0] !== CONNECT_REQUEST_FORMAT) {
    throw new WireError('UNSUPPORTED_VERSION', `connect request format ${sealed[0]}`)
  }
  const topicId = hexToBytes(topic.publicId)
  let plaintext: Uint8Array
  try {
    plaintext = xchacha20poly1305(
      topic.sealKey,
      sealed.subarray(1, 1 + NONCE_BYTES),
      concat(topicId, ourKey),
    ).decrypt(sealed.subarray(1 + NONCE_BYTES))
  } catch (cause) {
    throw new WireError('BAD_SEAL', 'not a connect request of this topic for us', { cause })
  }
  const outer = asFields(decodeCbor(plaintext), 'sealed connect request')
  const body = bytes(outer, 'body', 'sealed connect request', { max: MAX_ANNOUNCEMENT_BYTES })
  const sig = bytes(outer, 'sig', 'sealed connect request', { min: 64, max: 64 })
  const value = decodeCbor(body)
  const to = bytes(asFields(value, 'connect request'), 'to', 'connect request', {
    min: 32,
    max: 32,
  })
  const { key: from, ...rest } = announcementFromWire(value)
  if (!equalBytes(to, ourKey))
    throw new WireError('BAD_FIELD', 'connect request is for another peer')
  if (equalBytes(from, to)) throw new WireError('BAD_FIELD', 'connect request from its recipient')
  let valid = false
  try {
    valid = ed25519.verify(sig, concat(SIGN_CONTEXT, topicId, body), from)
  } catch {
    valid = false
  }
  if (!valid) throw new WireError('BAD_SIGNATURE', 'connect request signature does not match')
  return { ...rest, from, to }
}
