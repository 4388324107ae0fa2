import { createHolePuncher, DEFAULT_STUN_SERVERS } from '@harddrive-party/holepunch'
import type { CreateLogger } from '@harddrive-party/wire-protocol'
import { Announcer } from '../announcer'
import { PortMapper } from '../port-mapping'
import { loopbackTarget, TurnRelays } from '../turn-relays'
import type { PeerNodeOptions } from '../types'
import type { Running } from './running'

/** How long start waits for the router's answer once the NAT detection is done. */
const MAPPING_GRACE_MS = 1500

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
    relay: o.relay?.enabled === true,
    log: logger('nat'),
  })
  parts.announcer = announcer
  // The router is asked while STUN runs, and start waits for its answer at most
  // MAPPING_GRACE_MS after the NAT detection: a LAN without UPnP / NAT-PMP (no answer until the
  // timeout, 5 s per protocol) must not hold start up. A later answer is announced as a change.
  let mapping: Promise<void> = Promise.resolve()
  if (o.portMapping) {
    const log = logger('port-mapping')
    const mapper = new PortMapper(o.portMapping, log)
    parts.mapper = mapper
    mapping = mapper.map(transport.address().port, signal).then(
      (m) => {
        if (m) announcer.setMapping({ host: m.externalHost, port: m.externalPort })
      },
      (err: unknown) => {
        if (!signal.aborted) log('port mapping failed: %s', (err as Error).message)
      },
    )
  }
  await announcer.refresh(signal)
  let grace: NodeJS.Timeout | undefined
  await Promise.race([
    mapping,
    new Promise<void>((resolve) => {
      grace = setTimeout(resolve, MAPPING_GRACE_MS)
    }),
  ])
  clearTimeout(grace)
  if (o.turnServers !== undefined && o.turnServers.length > 0) {
    const turn = new TurnRelays({ servers: o.turnServers, log: logger('turn') })
    parts.turn = turn
    await turn.keep({
      target: loopbackTarget(transport.address()),
      // A relayed address only helps a hard NAT (everything else punches): now, or after a
      // later NAT check (the `change` below).
      wanted: () => announcer.localNat().nat === 'hard',
      onRelayed: (relayed) => announcer.setRelayed(relayed),
    })
    announcer.addEventListener('change', () => void turn.ensure())
  }
}
