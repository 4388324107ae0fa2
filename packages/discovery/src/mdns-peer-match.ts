import { type Announcement, isWireError, type TopicKeys } from '@harddrive-party/wire-protocol'
import {
  createMdnsCapability,
  decodeMdnsRecord,
  equalBytes,
  isIPv4,
  type MdnsEndpoint,
  type MdnsRecord,
  matchMdnsCapabilities,
  validateMdnsEndpoint,
} from '@harddrive-party/wire-protocol/internal'
import type { RejectionReason } from './discovery'

/** What one instance's TXT record proves, given the addresses its host record gave. */
export type MdnsPeerMatch =
  | { ok: false; reason: RejectionReason }
  | {
      ok: true
      key: Uint8Array
      /** The first address whose capabilities match a joined topic; undefined when none does. */
      endpoint: MdnsEndpoint | undefined
      /** The joined topics the record has a capability for, at `endpoint`. */
      matched: TopicKeys[]
      /** Why nothing matched (when `endpoint` is undefined). */
      unmatched: RejectionReason
    }

/**
 * Decodes an instance's TXT record and checks its topic capabilities against our joined topics,
 * trying each advertised address: a capability is bound to key, address and port, so only a
 * peer that knows the topic secret can have made one for the address it really advertises.
 */
export function matchMdnsPeer(
  txt: Uint8Array[],
  addresses: readonly string[],
  port: number,
  joined: Iterable<TopicKeys>,
  ownKey: Uint8Array,
): MdnsPeerMatch {
  let record: MdnsRecord
  try {
    record = decodeMdnsRecord(txt)
  } catch (err) {
    const version = isWireError(err) && err.code === 'UNSUPPORTED_VERSION'
    return { ok: false, reason: version ? 'unsupported-version' : 'bad-record' }
  }
  if (equalBytes(record.key, ownKey)) return { ok: false, reason: 'own' }
  let endpoint: MdnsEndpoint | undefined
  let matched: TopicKeys[] = []
  const topics = [...joined]
  for (const address of addresses) {
    let candidate: MdnsEndpoint
    try {
      candidate = validateMdnsEndpoint({ key: record.key, host: address, port })
    } catch {
      continue
    }
    matched = matchMdnsCapabilities(topics, record.capabilities, candidate)
    if (matched.length > 0) {
      endpoint = candidate
      break
    }
  }
  const unmatched = addresses.some((a) => isIPv4(a)) ? 'unmatched-capability' : 'bad-record'
  return { ok: true, key: record.key, endpoint, matched, unmatched }
}

/** The announcement an mDNS peer stands for on one topic: its LAN endpoint, no NAT known. */
export function mdnsAnnouncement(
  topic: TopicKeys,
  key: Uint8Array,
  endpoint: MdnsEndpoint,
  now: number,
): { announcement: Announcement; capability: Uint8Array } {
  const capability = createMdnsCapability(topic, endpoint)
  const announcement: Announcement = {
    key,
    addresses: [{ host: endpoint.host, port: endpoint.port, kind: 'lan' }],
    nat: 'unknown',
    timestamp: now,
    nonce: capability,
  }
  return { announcement, capability }
}
