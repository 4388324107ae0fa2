import { isIPv4, isIPv6 } from './address'
import type { AddressKind } from './announcement'
import { WireError } from './errors'

/**
 * What an IP literal can reach. `private`: RFC 1918, CGNAT 100.64.0.0/10, IPv6 ULA fc00::/7.
 * `documentation`: 192.0.2.0/24, 198.51.100.0/24, 203.0.113.0/24, 2001:db8::/32 (never routed).
 * `reserved`: every other special-purpose block (0.0.0.0/8 but 0.0.0.0 itself, 192.0.0.0/24,
 * benchmarking 198.18.0.0/15, 240.0.0.0/4, IPv6 outside 2000::/3 but the blocks above).
 * `unspecified` is 0.0.0.0 and `::`; `broadcast` is 255.255.255.255.
 */
export type AddressClass =
  | 'unspecified'
  | 'loopback'
  | 'multicast'
  | 'broadcast'
  | 'link-local'
  | 'private'
  | 'documentation'
  | 'reserved'
  | 'global'

/**
 * Classes an announced address of each kind may have. `public`: global, or a documentation block
 * (examples and tests use them; routers drop them, so they reach nobody). `lan`: private, or
 * loopback for a peer on our own host (tests, several peers on one machine): a loopback packet
 * never leaves this machine, and holepunch rate-limits it like any other target.
 */
export const ANNOUNCED_ADDRESS_CLASSES: Readonly<Record<AddressKind, readonly AddressClass[]>> = {
  public: ['global', 'documentation'],
  lan: ['private', 'loopback'],
}

/** Classifies an IPv4 or IPv6 literal (no brackets, no zone); throws `BAD_FIELD` for anything else. Pure. */
export function classifyAddress(host: string): AddressClass {
  if (isIPv4(host)) return classifyIPv4(ipv4Number(host))
  if (isIPv6(host)) return classifyIPv6(ipv6Groups(host))
  throw new WireError('BAD_FIELD', 'not an IPv4 or IPv6 literal')
}

/**
 * Checks that an announced address may be announced as `kind` (see
 * {@link ANNOUNCED_ADDRESS_CLASSES}) with this port: 1..65535, or 0 for a `public` address whose
 * port is unknown (a hard NAT that allocates at random; never dialed, only sprayed by holepunch).
 * Throws `BAD_ADDRESS`.
 */
export function checkAnnouncedAddress(
  host: string,
  port: number,
  kind: AddressKind,
  what = 'address',
): void {
  const cls = classifyAddress(host)
  if (!ANNOUNCED_ADDRESS_CLASSES[kind].includes(cls)) {
    throw new WireError('BAD_ADDRESS', `${what}: a ${cls} address cannot be announced as ${kind}`)
  }
  if (port === 0 && kind !== 'public') {
    throw new WireError('BAD_ADDRESS', `${what}: port 0 (unknown) only for a public address`)
  }
}

function ipv4Number(host: string): number {
  let n = 0
  for (const part of host.split('.')) n = n * 256 + Number(part)
  return n
}

/** True when `n` lies in `base/prefix` (base as 4 octets). */
function inV4(n: number, a: number, b: number, c: number, d: number, prefix: number): boolean {
  const base = ((a * 256 + b) * 256 + c) * 256 + d
  const size = 2 ** (32 - prefix)
  return n >= base && n < base + size
}

function classifyIPv4(n: number): AddressClass {
  if (inV4(n, 0, 0, 0, 0, 8)) return n === 0 ? 'unspecified' : 'reserved'
  if (inV4(n, 127, 0, 0, 0, 8)) return 'loopback'
  if (inV4(n, 224, 0, 0, 0, 4)) return 'multicast'
  if (n === 0xffffffff) return 'broadcast'
  if (inV4(n, 240, 0, 0, 0, 4)) return 'reserved'
  if (inV4(n, 169, 254, 0, 0, 16)) return 'link-local'
  if (
    inV4(n, 10, 0, 0, 0, 8) ||
    inV4(n, 172, 16, 0, 0, 12) ||
    inV4(n, 192, 168, 0, 0, 16) ||
    inV4(n, 100, 64, 0, 0, 10)
  ) {
    return 'private'
  }
  if (inV4(n, 192, 0, 2, 0, 24) || inV4(n, 198, 51, 100, 0, 24) || inV4(n, 203, 0, 113, 0, 24)) {
    return 'documentation'
  }
  if (inV4(n, 192, 0, 0, 0, 24) || inV4(n, 198, 18, 0, 0, 15)) return 'reserved'
  return 'global'
}

/** The eight 16-bit groups of a literal that `isIPv6` accepted. */
function ipv6Groups(host: string): number[] {
  const [head = '', tail] = host.split('::')
  const parse = (part: string): number[] => {
    if (part === '') return []
    const out: number[] = []
    for (const g of part.split(':')) {
      if (g.includes('.')) {
        const v4 = ipv4Number(g)
        out.push(Math.floor(v4 / 65536), v4 % 65536)
      } else out.push(Number.parseInt(g, 16))
    }
    return out
  }
  const first = parse(head)
  if (tail === undefined) return first
  const last = parse(tail)
  return [...first, ...new Array<number>(8 - first.length - last.length).fill(0), ...last]
}

function classifyIPv6(g: number[]): AddressClass {
  const [g0 = 0, g1 = 0, g2 = 0, g3 = 0, g4 = 0, g5 = 0, g6 = 0, g7 = 0] = g
  const zeroTo4 = g0 === 0 && g1 === 0 && g2 === 0 && g3 === 0 && g4 === 0
  if (zeroTo4 && g5 === 0 && g6 === 0) {
    if (g7 === 0) return 'unspecified'
    if (g7 === 1) return 'loopback'
  }
  // IPv4-mapped ::ffff:a.b.c.d and NAT64 64:ff9b::a.b.c.d reach the IPv4 address they embed.
  const nat64 = g0 === 0x64 && g1 === 0xff9b && g2 === 0 && g3 === 0 && g4 === 0 && g5 === 0
  if ((zeroTo4 && g5 === 0xffff) || nat64) return classifyIPv4(g6 * 65536 + g7)
  if (g0 >= 0xff00) return 'multicast'
  if ((g0 & 0xffc0) === 0xfe80) return 'link-local'
  if ((g0 & 0xfe00) === 0xfc00) return 'private'
  if (g0 === 0x2001 && g1 === 0x0db8) return 'documentation'
  if ((g0 & 0xe000) === 0x2000) return 'global'
  return 'reserved'
}
