import { xchacha20poly1305 } from '@noble/ciphers/chacha.js'
import { ed25519 } from '@noble/curves/ed25519.js'
import { hexToBytes, randomBytes, utf8ToBytes } from '@noble/hashes/utils.js'
import { validateHost } from './address'
import { checkAnnouncedAddress } from './address-class'
import { decodeCbor, encodeCbor } from './cbor'
import { array, asFields, bytes, field, has, oneOf, optBool, uint } from './check'
import { WireError } from './errors'
import { MAX_ANNOUNCED_ADDRESSES, MAX_ANNOUNCEMENT_BYTES } from './limits'
import type { SocketAddress } from './shared-types'
import { concat, type TopicKeys } from './topic'

/** How a peer's NAT maps ports, as far as STUN could tell. */
export const NAT_TYPES = ['open', 'easy', 'hard', 'unknown'] as const
export type NatType = (typeof NAT_TYPES)[number]

/** How the NAT picks external ports, when it could be seen. */
export const PORT_ALLOCATIONS = ['preserving', 'sequential', 'random', 'unknown'] as const
export type PortAllocation = (typeof PORT_ALLOCATIONS)[number]

export const ADDRESS_KINDS = ['lan', 'public'] as const
export type AddressKind = (typeof ADDRESS_KINDS)[number]

/** A {@link SocketAddress} as announced to topic members: with its kind (and TCP carrier). */
export interface AnnouncedAddress extends SocketAddress {
  /**
   * UDP port; 0 when unknown (the public address of a hard NAT with random allocation). A hard
   * NAT that allocates sequentially announces the last port STUN saw, for port prediction.
   */
  port: number
  kind: AddressKind
  /** True when the same port also accepts the TCP carrier. */
  tcp?: boolean
}

/** What a peer tells the members of a topic about itself. Signed, then sealed. */
export interface Announcement {
  /** ed25519 public key: the peer's identity. */
  key: Uint8Array
  addresses: AnnouncedAddress[]
  nat: NatType
  portAllocation?: PortAllocation
  /**
   * This member relays for members that cannot reach each other (opt-in, docs/protocol.md
   * §7.5). Only sent when true.
   */
  relay?: boolean
  /**
   * A TURN relayed address (RFC 8656) the peer holds on a TURN server: a peer that can reach it
   * no other way dials it (the holder permits the dialer's IP first). A `public` address.
   */
  relayed?: SocketAddress
  /** ms since the Unix epoch when this announcement was made. */
  timestamp: number
  /** 16 random bytes, fresh for each announcement (replay detection). */
  nonce: Uint8Array
}

/** First byte of a sealed announcement: the format version. */
export const ANNOUNCEMENT_FORMAT = 1
const NONCE_BYTES = 24
const SIGN_CONTEXT = utf8ToBytes('harddrive-party/1 announce\0')

/** Signs `announcement` with `secretKey` (32-byte ed25519 seed) and seals it for `topic`. */
export function sealAnnouncement(
  announcement: Announcement,
  topic: Pick<TopicKeys, 'publicId' | 'sealKey'>,
  secretKey: Uint8Array,
  nonce: Uint8Array = randomBytes(NONCE_BYTES),
): Uint8Array {
  const body = encodeCbor(announcementToWire(announcement))
  const topicId = hexToBytes(topic.publicId)
  const sig = ed25519.sign(concat(SIGN_CONTEXT, topicId, body), secretKey)
  const plaintext = padded(body, sig)
  const sealed = xchacha20poly1305(topic.sealKey, nonce, topicId).encrypt(plaintext)
  const out = concat(new Uint8Array([ANNOUNCEMENT_FORMAT]), nonce, sealed)
  if (out.length > MAX_ANNOUNCEMENT_BYTES) {
    throw new WireError(
      'FRAME_TOO_LARGE',
      `announcement is ${out.length} bytes; limit ${MAX_ANNOUNCEMENT_BYTES}`,
    )
  }
  return out
}

/** Padding bucket: sealed plaintexts are a multiple of this many bytes. */
const PAD_BUCKET = 256

/** `{ body, sig, pad }` with `pad` sized so the whole encoding fills its 256-byte bucket. */
export function padded(body: Uint8Array, sig: Uint8Array): Uint8Array {
  const bare = encodeCbor({ body, pad: new Uint8Array(0), sig }).length
  // A pad of n bytes adds n plus 0, 1 or 2 bytes of CBOR length header; try each, and the next
  // bucket when a boundary makes none fit exactly.
  for (let target = Math.ceil(bare / PAD_BUCKET) * PAD_BUCKET; ; target += PAD_BUCKET) {
    for (let header = 0; header <= 2; header++) {
      const padLength = target - bare - header
      if (padLength < 0) continue
      const out = encodeCbor({ body, pad: new Uint8Array(padLength), sig })
      if (out.length === target) return out
    }
  }
}

/**
 * Opens a sealed announcement from the network: checks size, format, the seal (topic key),
 * the fields and the signature. Throws a {@link WireError}: `BAD_SEAL` when the payload is
 * not for this topic, `BAD_SIGNATURE` when the peer's key did not sign it. Freshness and
 * replays are the caller's business (it owns the clock and the memory).
 */
export function openAnnouncement(
  sealed: Uint8Array,
  topic: Pick<TopicKeys, 'publicId' | 'sealKey'>,
): Announcement {
  if (!(sealed instanceof Uint8Array)) throw new WireError('MALFORMED', 'announcement is not bytes')
  if (sealed.length > MAX_ANNOUNCEMENT_BYTES) {
    throw new WireError(
      'FRAME_TOO_LARGE',
      `announcement of ${sealed.length} bytes; limit ${MAX_ANNOUNCEMENT_BYTES}`,
    )
  }
  if (sealed.length < 1 + NONCE_BYTES + 16)
    throw new WireError('MALFORMED', 'announcement too short')
  if (sealed[0] !== ANNOUNCEMENT_FORMAT) {
    throw new WireError(
      'UNSUPPORTED_VERSION',
      `announcement format ${sealed[0]}; we read ${ANNOUNCEMENT_FORMAT}`,
    )
  }
  const topicId = hexToBytes(topic.publicId)
  let plaintext: Uint8Array
  try {
    plaintext = xchacha20poly1305(
      topic.sealKey,
      sealed.subarray(1, 1 + NONCE_BYTES),
      topicId,
    ).decrypt(sealed.subarray(1 + NONCE_BYTES))
  } catch (cause) {
    throw new WireError('BAD_SEAL', 'announcement is not sealed with this topic', { cause })
  }
  const outer = asFields(decodeCbor(plaintext), 'sealed announcement')
  const body = bytes(outer, 'body', 'sealed announcement', { max: MAX_ANNOUNCEMENT_BYTES })
  const sig = bytes(outer, 'sig', 'sealed announcement', { min: 64, max: 64 })
  const announcement = announcementFromWire(decodeCbor(body))
  let valid = false
  try {
    valid = ed25519.verify(sig, concat(SIGN_CONTEXT, topicId, body), announcement.key)
  } catch {
    valid = false
  }
  if (!valid) throw new WireError('BAD_SIGNATURE', 'announcement signature does not match its key')
  return announcement
}

export function announcementToWire(a: Announcement): Record<string, unknown> {
  return {
    key: a.key,
    addresses: a.addresses.map((x) => ({ host: x.host, port: x.port, kind: x.kind, tcp: x.tcp })),
    nat: a.nat,
    portAllocation: a.portAllocation,
    ...(a.relay === true ? { relay: true } : {}),
    relayed: a.relayed ? { host: a.relayed.host, port: a.relayed.port } : undefined,
    timestamp: a.timestamp,
    nonce: a.nonce,
  }
}

/** Validates a decoded announcement body. Exported for the protocol vectors. */
export function announcementFromWire(value: unknown): Announcement {
  const m = asFields(value, 'announcement')
  const addresses = array(m, 'addresses', 'announcement', MAX_ANNOUNCED_ADDRESSES).map((v, i) => {
    const a = asFields(v, `announcement.addresses[${i}]`)
    const addr: AnnouncedAddress = {
      host: validateHost(field(a, 'host'), `announcement.addresses[${i}].host`),
      port: uint(a, 'port', `announcement.addresses[${i}]`, 65535),
      kind: has(a, 'kind')
        ? oneOf(a, 'kind', `announcement.addresses[${i}]`, ADDRESS_KINDS)
        : 'public',
    }
    // Untrusted hosts become dial and punch targets: only the classes each kind may hold (issue 9.5).
    checkAnnouncedAddress(addr.host, addr.port, addr.kind, `announcement.addresses[${i}]`)
    const tcp = optBool(a, 'tcp', `announcement.addresses[${i}]`)
    if (tcp !== undefined) addr.tcp = tcp
    return addr
  })
  const announcement: Announcement = {
    key: bytes(m, 'key', 'announcement', { min: 32, max: 32 }),
    addresses,
    // A NAT type from a newer peer that we do not know is as good as unknown.
    nat:
      has(m, 'nat') && (NAT_TYPES as readonly unknown[]).includes(field(m, 'nat'))
        ? (field(m, 'nat') as NatType)
        : 'unknown',
    timestamp: uint(m, 'timestamp', 'announcement'),
    nonce: bytes(m, 'nonce', 'announcement', { min: 16, max: 16 }),
  }
  if (optBool(m, 'relay', 'announcement') === true) announcement.relay = true
  if (has(m, 'relayed')) {
    const r = asFields(field(m, 'relayed'), 'announcement.relayed')
    const relayed = {
      host: validateHost(field(r, 'host'), 'announcement.relayed.host'),
      port: uint(r, 'port', 'announcement.relayed', 65535),
    }
    // A dial target like any public address; port 0 (unknown) makes no sense for a relay.
    checkAnnouncedAddress(relayed.host, relayed.port || 1, 'public', 'announcement.relayed')
    if (relayed.port === 0) throw new WireError('BAD_ADDRESS', 'announcement.relayed: port 0')
    announcement.relayed = relayed
  }
  const alloc = field(m, 'portAllocation')
  if ((PORT_ALLOCATIONS as readonly unknown[]).includes(alloc))
    announcement.portAllocation = alloc as PortAllocation
  return announcement
}
