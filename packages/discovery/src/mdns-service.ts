import { MDNS_SERVICE_TYPE } from '@harddrive-party/wire-protocol/internal'
import type mDNS from 'multicast-dns'
import { randomHex } from './hex'

export type MdnsAnswer = mDNS.ResponseOutgoingPacket['answers'][number]
export type MdnsQuestion = mDNS.QueryOutgoingPacket['questions'][number]

/** What we advertise: one DNS-SD service instance with its host record. */
export interface LocalService {
  /** `<random>._hdp._udp.local`, fresh for each start. */
  instance: string
  /** `<random>.local`, the SRV target. */
  target: string
  host: string
  port: number
  /** TXT strings (wire-protocol's `encodeMdnsRecord`). */
  txt: string[]
}

export function newServiceNames(): { instance: string; target: string } {
  const label = randomHex(8)
  return { instance: `${label}.${MDNS_SERVICE_TYPE}`, target: `${label}.local` }
}

/**
 * PTR → SRV + TXT → A, as DNS-SD wants them. The PTR is a shared record; the others are
 * unique to us, so they carry the cache-flush bit (a changed TXT replaces the old one).
 * `ttl` 0 makes a goodbye.
 */
export function serviceRecords(s: LocalService, ttl: number): MdnsAnswer[] {
  return [
    { name: MDNS_SERVICE_TYPE, type: 'PTR', ttl, data: s.instance },
    {
      name: s.instance,
      type: 'SRV',
      ttl,
      flush: true,
      data: { port: s.port, target: s.target, priority: 0, weight: 0 },
    },
    { name: s.instance, type: 'TXT', ttl, flush: true, data: s.txt },
    { name: s.target, type: 'A', ttl, flush: true, data: s.host },
  ]
}

/** True when `q` asks for something we advertise. */
export function asksForUs(q: { name: string; type: string }, s: LocalService): boolean {
  const name = q.name.toLowerCase()
  const any = q.type === 'ANY'
  if (name === MDNS_SERVICE_TYPE) return any || q.type === 'PTR'
  if (name === s.instance) return any || q.type === 'SRV' || q.type === 'TXT'
  if (name === s.target) return any || q.type === 'A'
  return false
}

/** One peer's records as gathered from one packet. */
export interface SeenInstance {
  instance: string
  /** Smallest TTL among its records in this packet; 0 = goodbye. */
  ttl: number
  srv?: { port: number; target: string }
  txt?: Uint8Array[]
}

export interface SeenRecords {
  instances: Map<string, SeenInstance>
  /** A records by host name. */
  hosts: Map<string, { addresses: string[]; ttl: number }>
}

/** Most records read from one packet; the rest are ignored (a packet is at most 9000 bytes). */
const MAX_RECORDS_PER_PACKET = 64
const SERVICE_SUFFIX = `.${MDNS_SERVICE_TYPE}`

interface LooseRecord {
  name?: unknown
  type?: unknown
  ttl?: unknown
  data?: unknown
}

/**
 * Picks our service's records out of a response (answers and additionals). Everything else on
 * the LAN's mDNS (printers, phones) is skipped. Hostile shapes are skipped too: this reads
 * only fields it checks.
 */
export function readServiceRecords(packet: {
  answers?: unknown[] | undefined
  additionals?: unknown[] | undefined
}): SeenRecords {
  const instances = new Map<string, SeenInstance>()
  const hosts = new Map<string, { addresses: string[]; ttl: number }>()
  const records = [...(packet.answers ?? []), ...(packet.additionals ?? [])].slice(
    0,
    MAX_RECORDS_PER_PACKET,
  ) as LooseRecord[]
  const instanceOf = (name: string, ttl: number): SeenInstance => {
    let seen = instances.get(name)
    if (!seen) {
      seen = { instance: name, ttl }
      instances.set(name, seen)
    }
    seen.ttl = Math.min(seen.ttl, ttl)
    return seen
  }
  for (const r of records) {
    if (typeof r?.name !== 'string' || typeof r.type !== 'string') continue
    const name = r.name.toLowerCase()
    const ttl = typeof r.ttl === 'number' && r.ttl >= 0 ? r.ttl : 0
    if (r.type === 'PTR' && name === MDNS_SERVICE_TYPE && typeof r.data === 'string') {
      const instance = r.data.toLowerCase()
      if (instance.endsWith(SERVICE_SUFFIX)) instanceOf(instance, ttl)
    } else if (r.type === 'SRV' && name.endsWith(SERVICE_SUFFIX)) {
      const d = r.data as { port?: unknown; target?: unknown } | undefined
      if (typeof d?.port === 'number' && typeof d.target === 'string') {
        instanceOf(name, ttl).srv = { port: d.port, target: d.target.toLowerCase() }
      }
    } else if (r.type === 'TXT' && name.endsWith(SERVICE_SUFFIX)) {
      const d = r.data
      const list = Array.isArray(d) ? d : d instanceof Uint8Array ? [d] : []
      if (list.every((x) => x instanceof Uint8Array)) instanceOf(name, ttl).txt = list
    } else if (r.type === 'A' && typeof r.data === 'string') {
      const h = hosts.get(name) ?? { addresses: [], ttl }
      if (h.addresses.length < 4 && !h.addresses.includes(r.data)) h.addresses.push(r.data)
      h.ttl = Math.min(h.ttl, ttl)
      hosts.set(name, h)
    }
  }
  return { instances, hosts }
}
