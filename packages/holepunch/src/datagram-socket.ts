import type { DatagramSocket, SocketAddress } from '@harddrive-party/wire-protocol'
import { isIPv4, isIPv6 } from '@harddrive-party/wire-protocol/internal'

// The socket types are wire-protocol's (one home for shared types); re-exported for our modules.
export type { DatagramSocket, SocketAddress }

/** Makes an additional bound socket (transport's `createSocket`); used by the birthday method. */
export type CreateSocket = (options?: {
  port?: number
  host?: string
}) => DatagramSocket | Promise<DatagramSocket>

export function formatAddress(address: SocketAddress): string {
  return address.host.includes(':')
    ? `[${address.host}]:${address.port}`
    : `${address.host}:${address.port}`
}

export function sameAddress(a: SocketAddress, b: SocketAddress): boolean {
  return a.port === b.port && normalizeHost(a.host) === normalizeHost(b.host)
}

/** `::ffff:1.2.3.4` (what a dual-stack socket reports) and `1.2.3.4` are the same peer. */
export function normalizeHost(host: string): string {
  const lower = host.toLowerCase()
  return lower.startsWith('::ffff:') && lower.includes('.') ? lower.slice(7) : lower
}

/** True for an IPv4 or IPv6 literal: the only kind of host holepunch ever sends to. */
export function isIpLiteral(host: string): boolean {
  return isIPv4(host) || isIPv6(host)
}
