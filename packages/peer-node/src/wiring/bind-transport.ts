import { createTransport, type Transport } from '@harddrive-party/transport'
import type { CreateLogger, Logger, TopicKeys } from '@harddrive-party/wire-protocol'
import { describeError } from '../errors'
import type { Storage } from '../storage/storage-dir'
import type { PeerNodeOptions } from '../types'

/**
 * Starts the transport on the node's stable port (the one saved in storage), falling back to
 * IPv4 only and then to a fresh port, and saves the port it got.
 */
export async function bindTransport(
  storage: Storage,
  o: PeerNodeOptions,
  topics: () => Iterable<TopicKeys>,
  log: Logger,
  layerLogger?: CreateLogger,
): Promise<Transport> {
  // Dual-stack by default (IPv4 peers arrive as plain IPv4 on UDX); a machine without IPv6
  // cannot bind `::`, and then binds IPv4 only.
  let host = o.host ?? '::'
  const make = (port: number) =>
    createTransport({
      identity: storage.identity,
      topics,
      port,
      host,
      ...(o.agent ? { agent: o.agent } : {}),
      ...(layerLogger ? { logger: layerLogger } : {}),
      ...o.transport,
    })
  const wanted = o.port ?? storage.settings.port
  let transport = make(wanted)
  try {
    try {
      await transport.start()
    } catch (err) {
      if (o.host !== undefined) throw err
      log('cannot bind [::]:%d (%s); binding IPv4 only', wanted, describeError(err))
      host = '0.0.0.0'
      transport = make(wanted)
      await transport.start()
    }
  } catch (err) {
    // The saved port is taken (by another program): a new one beats not starting at all.
    if (o.port !== undefined || wanted === 0) throw err
    log.error('port %d is taken (%s); choosing another', wanted, describeError(err))
    transport = make(0)
    await transport.start()
  }
  await storage.savePort(transport.address().port)
  return transport
}
