import { createHolePuncher, DEFAULT_STUN_SERVERS } from '@harddrive-party/holepunch'
import type { CreateLogger } from '@harddrive-party/wire-protocol'
import { Announcer } from '../announcer'
import { PortMapper } from '../port-mapping'
import type { PeerNodeOptions } from '../types'
import type { Running } from './running'

/**
 * Brings up what the node learns about its own reachability: the hole puncher on the
 * transport's socket, the announcer, and (when asked) a router port mapping; then runs the first
 * NAT detection. Each part goes into `parts` as soon as it holds something, so a failure part way
 * releases exactly what was started.
 */
export async function wireNat(
  parts: Partial<Running> & Pick<Running, 'transport'>,
  o: PeerNodeOptions,
  logger: CreateLogger,
  signal: AbortSignal,
  puncherLogger?: CreateLogger,
): Promise<void> {
  const { transport } = parts
  const puncher = createHolePuncher({
    socket: transport.socket,
    createSocket: (opts) => transport.createSocket(opts),
    ...(o.stunServers ? { stunServers: o.stunServers } : {}),
    ...(puncherLogger ? { logger: puncherLogger } : {}),
  })
  await puncher.start()
  parts.puncher = puncher
  const announcer = new Announcer({
    puncher,
    address: () => transport.address(),
    stunServers: o.stunServers ?? DEFAULT_STUN_SERVERS,
    natTimeoutMs: o.natTimeoutMs ?? 10_000,
    lanAddresses: o.lanAddresses,
    log: logger('nat'),
  })
  parts.announcer = announcer
  if (o.portMapping) {
    const mapper = new PortMapper(o.portMapping, logger('port-mapping'))
    parts.mapper = mapper
    const mapping = await mapper.map(transport.address().port, signal)
    if (mapping) announcer.setMapping({ host: mapping.externalHost, port: mapping.externalPort })
  }
  await announcer.refresh(signal)
}
