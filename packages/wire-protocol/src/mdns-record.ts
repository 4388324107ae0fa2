import { hmac } from '@noble/hashes/hmac.js'
import { sha256 } from '@noble/hashes/sha2.js'
import { bytesToHex, hexToBytes, utf8ToBytes } from '@noble/hashes/utils.js'
import { validateHost } from './address'
import { checkAnnouncedAddress } from './address-class'
import { WireError } from './errors'
import { concat, equalBytes, type TopicKeys } from './topic'

/** mDNS service type a peer advertises. */
export const MDNS_SERVICE_TYPE = '_hdp._udp.local'
/** Bytes of one capability. */
export const MDNS_CAPABILITY_BYTES = 16
/** Most capabilities (joined topics) one record carries. */
export const MAX_MDNS_CAPABILITIES = 32

/** The address and key a capability is bound to. */
export interface MdnsEndpoint {
  key: Uint8Array
  host: string
  port: number
}

/**
 * A capability for one joined topic: proves topic membership to other members only (it is
 * an HMAC under the topic's mDNS key), and is bound to the advertised key, host and port, so
 * it cannot be replayed to advertise another address or identity.
 */
export function createMdnsCapability(
  topic: Pick<TopicKeys, 'mdnsKey'>,
  endpoint: MdnsEndpoint,
): Uint8Array {
  const port = new Uint8Array([endpoint.port >> 8, endpoint.port & 0xff])
  const input = concat(
    utf8ToBytes('harddrive-party/1 mdns\0'),
    endpoint.key,
    utf8ToBytes(`${endpoint.host}\0`),
    port,
  )
  return hmac(sha256, topic.mdnsKey, input).subarray(0, MDNS_CAPABILITY_BYTES)
}

/** The topics (of those given) that one of `capabilities` proves for `endpoint`. */
export function matchMdnsCapabilities<T extends Pick<TopicKeys, 'mdnsKey'>>(
  topics: Iterable<T>,
  capabilities: readonly Uint8Array[],
  endpoint: MdnsEndpoint,
): T[] {
  const out: T[] = []
  for (const topic of topics) {
    const want = createMdnsCapability(topic, endpoint)
    if (capabilities.some((c) => equalBytes(c, want))) out.push(topic)
  }
  return out
}

/** What a peer puts in its mDNS TXT record. */
export interface MdnsRecord {
  version: 1
  key: Uint8Array
  capabilities: Uint8Array[]
}

/** TXT strings: `hdp=1`, `key=<hex>`, then one `cap=<hex>` per joined topic. */
export function encodeMdnsRecord(record: MdnsRecord): string[] {
  return [
    'hdp=1',
    `key=${bytesToHex(record.key)}`,
    ...record.capabilities.map((c) => `cap=${bytesToHex(c)}`),
  ]
}

/** Parses TXT strings (or buffers) from the network. Unknown keys are ignored. */
export function decodeMdnsRecord(txt: readonly (string | Uint8Array)[]): MdnsRecord {
  if (!Array.isArray(txt) || txt.length > 64)
    throw new WireError('MALFORMED', 'TXT record must be a short list')
  let version: string | undefined
  let key: Uint8Array | undefined
  const capabilities: Uint8Array[] = []
  for (const item of txt) {
    const s = typeof item === 'string' ? item : new TextDecoder().decode(item)
    if (s.length > 255) throw new WireError('MALFORMED', 'TXT string longer than 255')
    const eq = s.indexOf('=')
    if (eq < 0) continue
    const k = s.slice(0, eq)
    const v = s.slice(eq + 1)
    if (k === 'hdp') version = v
    else if (k === 'key') key = hex(v, 32, 'key')
    else if (k === 'cap') {
      if (capabilities.length >= MAX_MDNS_CAPABILITIES)
        throw new WireError('BAD_FIELD', 'too many capabilities')
      capabilities.push(hex(v, MDNS_CAPABILITY_BYTES, 'cap'))
    }
  }
  if (version === undefined) throw new WireError('BAD_FIELD', 'TXT record has no hdp version')
  if (version !== '1')
    throw new WireError('UNSUPPORTED_VERSION', `mDNS record version ${version.slice(0, 8)}`)
  if (key === undefined) throw new WireError('BAD_FIELD', 'TXT record has no key')
  return { version: 1, key, capabilities }
}

/**
 * Checks host and port of an mDNS-advertised endpoint. It becomes a `lan` address, so its class
 * must be private or loopback (`BAD_ADDRESS`).
 */
export function validateMdnsEndpoint(endpoint: {
  key: Uint8Array
  host: unknown
  port: unknown
}): MdnsEndpoint {
  const host = validateHost(endpoint.host, 'mdns host')
  const port = endpoint.port
  if (typeof port !== 'number' || !Number.isInteger(port) || port < 1 || port > 65535) {
    throw new WireError('BAD_FIELD', 'mdns port must be 1..65535')
  }
  checkAnnouncedAddress(host, port, 'lan', 'mdns endpoint')
  return { key: endpoint.key, host, port }
}

function hex(v: string, length: number, what: string): Uint8Array {
  if (v.length !== length * 2 || !/^[0-9a-f]+$/.test(v)) {
    throw new WireError('BAD_FIELD', `${what} must be ${length} bytes of lowercase hex`)
  }
  return hexToBytes(v)
}
