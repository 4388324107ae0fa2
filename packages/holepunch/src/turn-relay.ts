import { createSocket, type Socket } from 'node:dgram'
import { lookup } from 'node:dns/promises'
import type { Logger } from '@harddrive-party/wire-protocol'
import { type DatagramSocket, formatAddress, type SocketAddress } from './datagram-socket'
import { HolepunchError } from './errors'
import { defaultLogger } from './logger'
import type { StunRetransmitOptions } from './stun-client'
import { TurnClient } from './turn-client'
import { redact, type TurnServer } from './turn-server'

export interface TurnRelayOptions extends StunRetransmitOptions {
  server: TurnServer
  /**
   * Where datagrams from relayed peers are delivered: our transport's socket, reached over
   * loopback (`127.0.0.1` and its port). To the transport each relayed peer looks like a local
   * address; datagrams it sends there go out through the relay.
   */
  target: SocketAddress
  /** Relayed peers (one loopback socket each) at most. Default 64. */
  maxPeers?: number
  /** A peer's loopback socket is closed after this long without traffic. Default 300000. */
  idleMs?: number
  lifetimeSec?: number
  maxAuthRounds?: number
  /** The allocation ended on its own (a refresh failed): the relayed address is gone. */
  onClose?: (reason: HolepunchError) => void
  log?: Logger
}

export interface TurnRelayStats {
  peers: number
  /** Bytes relayed from peers to us / from us to peers. */
  bytesIn: number
  bytesOut: number
}

/** A TURN allocation whose peers appear to our transport as loopback addresses. */
export interface TurnRelay {
  /** The relayed address peers send to (public: on the TURN server). */
  readonly relayed: SocketAddress
  /** Our address as the TURN server sees it. */
  readonly mapped: SocketAddress | undefined
  /** The server, password hidden. */
  readonly server: string
  /** Lets these IPs send to the relayed address (the server drops everyone else). */
  permit(hosts: readonly string[]): Promise<void>
  /** Whether `address` is the loopback stand-in of one of our relayed peers (what our transport sees). */
  carries(address: SocketAddress): boolean
  stats(): TurnRelayStats
  /** Deallocates and closes every socket. */
  close(): Promise<void>
}

interface Proxy {
  socket: Socket
  ready: Promise<void>
  lastUsed: number
  /** The loopback port, once bound. */
  port?: number
}

/**
 * Allocates on `server` and bridges: data a peer sends to the relayed address is delivered to
 * `target` from a loopback socket of that peer's own; what `target` sends back to that socket
 * goes to the peer through the relay (a channel once bound). No change to the transport.
 */
export async function createTurnRelay(options: TurnRelayOptions): Promise<TurnRelay> {
  const log = options.log ?? defaultLogger('turn')
  const shown = redact(options.server)
  let serverHost = options.server.host
  try {
    serverHost = (await lookup(serverHost)).address
  } catch (err) {
    throw new HolepunchError('TURN_BAD_SERVER', `${shown}: the host does not resolve`, {
      cause: err,
    })
  }
  const server: TurnServer = { ...options.server, host: serverHost }
  const toServer = await bindDgram(serverHost.includes(':') ? 'udp6' : 'udp4', undefined)
  const maxPeers = options.maxPeers ?? 64
  const idleMs = options.idleMs ?? 300_000
  const proxies = new Map<string, Proxy>()
  const stats = { bytesIn: 0, bytesOut: 0 }
  let closed = false

  const proxyFor = (peer: SocketAddress): Proxy | undefined => {
    const key = formatAddress(peer)
    const known = proxies.get(key)
    if (known !== undefined) return known
    if (proxies.size >= maxPeers || closed) return undefined
    const socket = createSocket(options.target.host.includes(':') ? 'udp6' : 'udp4')
    const proxy: Proxy = {
      socket,
      lastUsed: Date.now(),
      ready: new Promise<void>((resolve, reject) => {
        socket.once('error', reject)
        socket.bind(0, options.target.host, () => {
          proxy.port = socket.address().port
          resolve()
        })
      }),
    }
    socket.on('error', (err) => log('loopback socket for %s: %O', key, err))
    socket.on('message', (msg, rinfo) => {
      // Only our transport may send through this peer's socket.
      if (rinfo.port !== options.target.port || rinfo.address !== options.target.host) return
      proxy.lastUsed = Date.now()
      stats.bytesOut += msg.length
      client.send(peer, msg)
    })
    proxies.set(key, proxy)
    proxy.ready.catch(() => proxies.delete(key))
    client.bindChannel(peer).catch((err: unknown) => log('channel bind to %s: %O', key, err))
    return proxy
  }

  const client = new TurnClient({
    ...options,
    server,
    socket: toServer.socket,
    onData(data, from) {
      const proxy = proxyFor(from)
      if (proxy === undefined) return
      proxy.lastUsed = Date.now()
      stats.bytesIn += data.length
      const copy = Buffer.from(data)
      proxy.ready.then(
        () => proxy.socket.send(copy, options.target.port, options.target.host),
        () => {},
      )
    },
    onClose(reason) {
      log.error('%s: %s', shown, reason.message)
      options.onClose?.(reason)
    },
    log,
  })
  try {
    await client.allocate()
  } catch (err) {
    await client.close()
    await toServer.socket.close()
    throw err
  }
  const sweep = setInterval(
    () => {
      const now = Date.now()
      for (const [key, proxy] of proxies) {
        if (now - proxy.lastUsed < idleMs) continue
        proxies.delete(key)
        proxy.socket.close()
      }
    },
    Math.min(idleMs, 60_000),
  )
  sweep.unref()

  return {
    relayed: client.relayed!,
    mapped: client.mapped,
    server: shown,
    permit: (hosts) => client.permit(hosts),
    carries(address) {
      const host = address.host.replace(/^::ffff:/, '')
      if (host !== options.target.host) return false
      for (const proxy of proxies.values()) if (proxy.port === address.port) return true
      return false
    },
    stats: () => ({ peers: proxies.size, ...stats }),
    async close() {
      if (closed) return
      closed = true
      clearInterval(sweep)
      await client.close()
      for (const proxy of proxies.values()) proxy.socket.close()
      proxies.clear()
      await toServer.socket.close()
    },
  }
}

/** A node:dgram socket as a {@link DatagramSocket}. */
async function bindDgram(
  type: 'udp4' | 'udp6',
  host: string | undefined,
): Promise<{ socket: DatagramSocket }> {
  const s = createSocket(type)
  await new Promise<void>((resolve, reject) => {
    s.once('error', reject)
    s.bind(0, host, () => resolve())
  })
  s.on('error', () => {}) // ICMP errors surface here; the client retransmits
  const socket: DatagramSocket = {
    port: s.address().port,
    send: (data, port, to) =>
      new Promise<void>((resolve, reject) => {
        s.send(data, port, to, (err) => (err ? reject(err) : resolve()))
      }),
    onMessage(listener) {
      const on = (msg: Buffer, rinfo: { address: string; port: number }): void =>
        listener(msg, { host: rinfo.address, port: rinfo.port })
      s.on('message', on)
      return () => s.off('message', on)
    },
    close: () => new Promise<void>((resolve) => s.close(() => resolve())),
  }
  return { socket }
}
