import { isIPv4, isIPv6 } from '@harddrive-party/wire-protocol'

/** A UDP endpoint: an IP literal and a port. */
export interface SocketAddress {
  host: string
  port: number
}

/**
 * A bound UDP socket that can send and receive raw datagrams. Transport provides these (over
 * UDX); holepunch never opens sockets itself except through a {@link CreateSocket} factory.
 */
export interface DatagramSocket {
  /** Local port it is bound to. */
  readonly port: number
  /** Send one datagram. `ttl` sets the IP TTL for this packet only (the low-TTL punching trick). */
  send(data: Uint8Array, port: number, host: string, options?: { ttl?: number }): Promise<void>
  /** Listen for raw datagrams that are not transport traffic; returns an unsubscribe function. */
  onMessage(listener: (data: Uint8Array, from: { host: string; port: number }) => void): () => void
  close(): Promise<void>
}

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
