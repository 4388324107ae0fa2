import type { DatagramSocket } from '@harddrive-party/transport'
import type { AnnouncedAddress, Logger } from '@harddrive-party/wire-protocol'

/**
 * When a firewalled IPv6 peer is to dial our IPv6 address (no NAT, but the firewall drops what
 * nobody inside asked for), we send a few tiny datagrams from our transport port to its
 * announced IPv6 addresses first: our firewall then takes its dial as the answer to ours
 * (a simultaneous open, as for an easy NAT). The datagrams carry one byte that no receiver
 * acts on. Sent now and again at 1, 3 and 7 s, which covers the dialer's first retries.
 */
export const PINHOLE_DELAYS_MS = [0, 1000, 3000, 7000] as const
const MAX_TARGETS = 4
const PAYLOAD = new Uint8Array([0])

export function ipv6Targets(addresses: readonly AnnouncedAddress[]): AnnouncedAddress[] {
  return addresses
    .filter((a) => a.kind === 'public' && a.port > 0 && a.host.includes(':'))
    .slice(0, MAX_TARGETS)
}

export function openIpv6Pinholes(
  socket: DatagramSocket,
  addresses: readonly AnnouncedAddress[],
  signal: AbortSignal,
  log: Logger,
): void {
  const targets = ipv6Targets(addresses)
  if (targets.length === 0) return
  for (const delay of PINHOLE_DELAYS_MS) {
    const timer = setTimeout(() => {
      if (signal.aborted) return
      for (const t of targets) {
        socket.send(PAYLOAD, t.port, t.host).catch((err: unknown) => {
          log('IPv6 pinhole to [%s]:%d: %O', t.host, t.port, err)
        })
      }
    }, delay)
    timer.unref?.()
    signal.addEventListener('abort', () => clearTimeout(timer), { once: true })
  }
}
