import makeMdns from 'multicast-dns'
import { DiscoveryError } from './errors'

export type MdnsSocket = ReturnType<typeof makeMdns>

export interface MdnsSocketOptions {
  /** UDP port of the mDNS group. */
  port: number
  /** IPv4 address of the LAN interface (multicast membership and outgoing interface). */
  interface: string
  /** Socket bind address. */
  bind: string
}

/**
 * Opens a multicast-dns socket and waits until it is ready. A failed group join or outgoing
 * interface only warns in multicast-dns; here it fails the open, since such a socket would
 * neither hear nor reach anyone.
 */
export async function openMdnsSocket(o: MdnsSocketOptions): Promise<MdnsSocket> {
  const socket = makeMdns({
    port: o.port,
    interface: o.interface,
    bind: o.bind,
    reuseAddr: true,
    loopback: true,
  })
  const problems: Error[] = []
  const onWarning = (err: NodeJS.ErrnoException) => {
    if (err.syscall === 'addMembership' || err.syscall === 'setMulticastInterface') {
      problems.push(err)
    }
  }
  socket.on('warning', onWarning)
  try {
    await new Promise<void>((resolve, reject) => {
      socket.once('ready', resolve)
      socket.once('error', reject)
    })
    if (problems.length > 0) throw problems[0]
    return socket
  } catch (cause) {
    socket.destroy()
    throw new DiscoveryError(
      'MDNS_BIND_FAILED',
      `cannot use mDNS on ${o.interface} (bound ${o.bind}:${o.port}): ${cause}`,
      { cause },
    )
  } finally {
    socket.off('warning', onWarning)
  }
}
