import { createServer, type Server, type Socket } from 'node:net'
import { type CreateLogger, limits } from '@harddrive-party/wire-protocol'
import { isIPv6 } from '@harddrive-party/wire-protocol/internal'
import { Aedes } from 'aedes'
import type { AbortOptions } from './discovery'
import { DiscoveryError } from './errors'
import { defaultLogger } from './logger'
import { MQTT_TOPIC_ROOT } from './mqtt-topic'

export interface EmbeddedBrokerOptions {
  /** Address to listen on. `0.0.0.0` serves friends on other machines. Default `127.0.0.1`. */
  host?: string
  /** TCP port; 0 picks a free one (read it from `address`). Default 0. */
  port?: number
  /** Most simultaneous client connections. Default 1024. */
  maxConnections?: number
  logger?: CreateLogger
}

/** A small MQTT 3.1.1 broker (aedes, in-process) that carries only harddrive-party topics. */
export interface EmbeddedBroker {
  start(options?: AbortOptions): Promise<void>
  stop(): Promise<void>
  /** Where it listens (after `start()`). */
  readonly address: { host: string; port: number } | undefined
  /** `mqtt://host:port` for clients on this machine (after `start()`). */
  readonly url: string | undefined
  [Symbol.asyncDispose](): Promise<void>
}

const ANNOUNCE_TOPIC = new RegExp(`^${MQTT_TOPIC_ROOT}/[0-9a-f]{64}/[0-9a-f]{32}$`)
const TOPIC_FILTER = new RegExp(`^${MQTT_TOPIC_ROOT}/[0-9a-f]{64}/(\\+|[0-9a-f]{32})$`)

/**
 * Creates (does not start) an embedded broker. It refuses any publish outside
 * `hdp/1/<publicId>/<slot>` or above the announcement size limit, and any subscription other
 * than one topic's announcements: so nobody can list the topics it carries with `#`.
 */
export function createEmbeddedBroker(options: EmbeddedBrokerOptions = {}): EmbeddedBroker {
  const host = options.host ?? '127.0.0.1'
  const port = options.port ?? 0
  const log = (options.logger ?? defaultLogger)('broker')
  let broker: Aedes | undefined
  let server: Server | undefined
  let address: { host: string; port: number } | undefined
  const sockets = new Set<Socket>()

  const stop = async (): Promise<void> => {
    const b = broker
    const s = server
    broker = undefined
    server = undefined
    address = undefined
    if (b) await new Promise<void>((resolve) => b.close(() => resolve()))
    for (const socket of sockets) socket.destroy()
    sockets.clear()
    if (s) await new Promise<void>((resolve) => s.close(() => resolve()))
  }

  return {
    async start(opts: AbortOptions = {}) {
      opts.signal?.throwIfAborted()
      if (broker) return
      const b = await Aedes.createBroker({
        authorizePublish(_client, packet, done) {
          const ok =
            ANNOUNCE_TOPIC.test(packet.topic) &&
            packet.payload.length <= limits.MAX_ANNOUNCEMENT_BYTES
          done(ok ? null : new Error('only harddrive-party announcements are carried here'))
        },
        authorizeSubscribe(_client, sub, done) {
          done(null, TOPIC_FILTER.test(sub.topic) ? sub : null)
        },
      })
      const s = createServer((socket) => {
        sockets.add(socket)
        socket.once('close', () => sockets.delete(socket))
        b.handle(socket)
      })
      s.maxConnections = options.maxConnections ?? 1024
      try {
        await new Promise<void>((resolve, reject) => {
          s.once('error', reject)
          s.listen(port, host, () => {
            s.off('error', reject)
            resolve()
          })
        })
      } catch (cause) {
        await new Promise<void>((resolve) => b.close(() => resolve()))
        throw new DiscoveryError('BROKER_LISTEN_FAILED', `cannot listen on ${host}:${port}`, {
          cause,
        })
      }
      s.on('error', (err) => log.error('embedded broker: %s', err))
      broker = b
      server = s
      const bound = s.address()
      address = { host, port: typeof bound === 'object' && bound ? bound.port : port }
      log('embedded broker listening on %s:%d', host, address.port)
      if (opts.signal?.aborted) {
        await stop()
        opts.signal.throwIfAborted()
      }
    },
    stop,
    get address() {
      return address
    },
    get url() {
      if (!address) return undefined
      return `mqtt://${connectableHost(address.host)}:${address.port}`
    },
    [Symbol.asyncDispose]: stop,
  }
}

/** A wildcard listen address is reached through loopback; IPv6 literals need brackets. */
function connectableHost(host: string): string {
  if (host === '0.0.0.0') return '127.0.0.1'
  if (host === '::') return '[::1]'
  return isIPv6(host) ? `[${host}]` : host
}
