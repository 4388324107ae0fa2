import { createDiscovery } from '@harddrive-party/discovery'
import type { CreateLogger, Logger } from '@harddrive-party/wire-protocol'
import type { TypedEventEmitter } from 'main-event'
import { describeError } from '../errors'
import type { PeerNodeEvents, PeerNodeOptions } from '../types'
import type { Running } from './running'

/**
 * Starts MQTT and/or mDNS discovery (none when both are off) and routes what it finds to the
 * connector; its status changes become the node's `discovery:status` events.
 */
export async function startDiscovery(
  r: Pick<Running, 'storage' | 'transport' | 'announcer' | 'connector'>,
  o: PeerNodeOptions,
  events: TypedEventEmitter<PeerNodeEvents>,
  signal: AbortSignal | undefined,
  logger?: CreateLogger,
) {
  const mqtt = o.mqtt === false ? false : (o.mqtt ?? {})
  const mdns = o.mdns ? { ...o.mdns, port: r.transport.address().port } : false
  if (mqtt === false && mdns === false) return undefined
  const discovery = createDiscovery({
    identity: r.storage.identity,
    getAnnouncement: () => r.announcer.announcement(),
    mqtt,
    mdns,
    ...(logger ? { logger } : {}),
  })
  discovery.addEventListener('peer', ({ detail }) => r.connector.onPeer(detail))
  discovery.addEventListener('gone', ({ detail }) => r.connector.onGone(detail))
  discovery.addEventListener('connect', ({ detail }) => r.connector.onConnectRequest(detail))
  discovery.addEventListener('status', ({ detail }) =>
    events.safeDispatchEvent('discovery:status', { detail }),
  )
  await discovery.start(signal ? { signal } : {})
  return discovery
}

/**
 * A changed NAT report is the node's `nat` event and a fresh announcement on every topic; peers
 * reached only through a relay are planned again (a direct path may exist now).
 */
export function wireNatChanges(
  r: Pick<Running, 'announcer' | 'discovery' | 'connector'>,
  events: TypedEventEmitter<PeerNodeEvents>,
  log: Logger,
): void {
  r.announcer.addEventListener('change', ({ detail }) => {
    events.safeDispatchEvent('nat', { detail })
    r.connector.onLocalChange()
    void r.discovery?.announce().catch((err: unknown) => {
      log.error('re-announce failed: %s', describeError(err))
    })
  })
}
