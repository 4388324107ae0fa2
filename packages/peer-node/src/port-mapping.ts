import { readFile } from 'node:fs/promises'
import { isIPv4 } from 'node:net'
import { type Gateway, pmpNat, upnpNat } from '@achingbrain/nat-port-mapper'
import type { Logger } from '@harddrive-party/wire-protocol'
import { describeError } from './errors'

/** Ways to ask the home router for a port mapping, in the order they are tried. */
export type PortMappingProtocol = 'upnp' | 'nat-pmp'

export interface PortMappingOptions {
  /**
   * Protocols to try, in order. Default `['upnp', 'nat-pmp']`: with Debian's miniupnpd 2.3.1
   * (nftables) a NAT-PMP renewal drops the forwarding rule while reporting success, which is
   * worse than UPnP's flaw (its delete is refused, so the mapping outlives us by its lease).
   */
  protocols?: readonly PortMappingProtocol[]
  /** Bound on finding a gateway and making the mapping, per protocol. Default 5000. */
  timeoutMs?: number
  /** Lease asked for; the mapping is renewed at half of it. Default 3600000 (1 h). */
  ttlMs?: number
}

/** What the connection doctor shows about our port mapping. */
export interface PortMappingInfo {
  protocol: PortMappingProtocol
  /** The router that holds the mapping (its LAN address). */
  gateway: string
  internalPort: number
  /** The lease the router was asked for; renewed at half of it. */
  leaseMs: number
  externalHost: string
  externalPort: number
  mappedAt: number
  /** Successful renewals since the mapping was made. */
  renewals: number
  /** The last renewal that failed, in words (the mapping may then lapse at its lease end). */
  lastError?: string
}

interface Active {
  info: PortMappingInfo
  gateway: Gateway
  internalHost: string
  timer: NodeJS.Timeout
}

/**
 * Keeps one UDP port mapping on the home router (UPnP IGD or NAT-PMP): maps our transport port,
 * renews it at half its lease, and deletes it on stop. The router's answers are untrusted: an
 * external address that is not an IPv4 literal, or a port out of range, is refused.
 */
export class PortMapper {
  readonly #o: Required<PortMappingOptions>
  readonly #log: Logger
  #active: Active | undefined
  #asking: Promise<PortMappingInfo | undefined> | undefined

  constructor(options: PortMappingOptions, log: Logger) {
    this.#o = {
      protocols: options.protocols ?? ['upnp', 'nat-pmp'],
      timeoutMs: options.timeoutMs ?? 5000,
      ttlMs: options.ttlMs ?? 3_600_000,
    }
    this.#log = log
  }

  get info(): PortMappingInfo | undefined {
    return this.#active && { ...this.#active.info }
  }

  /**
   * Maps `port` (UDP) with the first protocol that works; undefined when none does. A call while
   * another is asking the router gets that call's answer (start's ask may still be running when
   * the first NAT recheck asks again).
   */
  map(port: number, signal: AbortSignal): Promise<PortMappingInfo | undefined> {
    if (this.#asking) return this.#asking
    const asking = this.#map(port, signal).finally(() => {
      this.#asking = undefined
    })
    this.#asking = asking
    return asking
  }

  async #map(port: number, signal: AbortSignal): Promise<PortMappingInfo | undefined> {
    await this.stop()
    for (const protocol of this.#o.protocols) {
      signal.throwIfAborted()
      const bound = AbortSignal.any([signal, AbortSignal.timeout(this.#o.timeoutMs)])
      let gateway: Gateway | undefined
      try {
        gateway = await findGateway(protocol, bound)
        if (gateway === undefined) continue
        const active = await this.#mapOn(protocol, gateway, port, bound)
        this.#active = active
        this.#log(
          'mapped UDP %d at %s:%d by %s',
          port,
          active.info.externalHost,
          active.info.externalPort,
          protocol,
        )
        return this.info
      } catch (err) {
        await gateway?.stop().catch(() => {})
        if (signal.aborted) throw err
        this.#log('no %s port mapping: %s', protocol, describeError(err))
      }
    }
    return undefined
  }

  async #mapOn(
    protocol: PortMappingProtocol,
    gateway: Gateway,
    port: number,
    signal: AbortSignal,
  ): Promise<Active> {
    const ttl = this.#ttl(protocol)
    let mapped: { internalHost: string; externalHost: string; externalPort: number } | undefined
    for await (const m of gateway.mapAll(port, {
      protocol: 'udp',
      externalPort: port,
      ttl,
      autoRefresh: false,
      signal,
    })) {
      mapped = m
      break
    }
    if (mapped === undefined) throw new Error('the gateway made no mapping')
    const externalHost = mapped.externalHost
    const externalPort = mapped.externalPort
    if (!isIPv4(externalHost))
      throw new Error(
        `the gateway answered a bad external address ${JSON.stringify(externalHost).slice(0, 60)}`,
      )
    if (!Number.isInteger(externalPort) || externalPort < 1 || externalPort > 65535)
      throw new Error(`the gateway answered a bad external port ${externalPort}`)
    const info: PortMappingInfo = {
      protocol,
      leaseMs: this.#leaseMs(protocol),
      gateway: gateway.host,
      internalPort: port,
      externalHost,
      externalPort,
      mappedAt: Date.now(),
      renewals: 0,
    }
    const active: Active = {
      info,
      gateway,
      internalHost: mapped.internalHost,
      timer: setTimeout(() => {}, 0),
    }
    active.timer = this.#renewTimer(active)
    return active
  }

  /**
   * nat-port-mapper 4.0.5 sends NAT-PMP's `ttl` as seconds unchanged, and turns UPnP's from ms
   * into seconds but never below 3600: pass what each really asks the router for.
   */
  #ttl(protocol: PortMappingProtocol): number {
    return protocol === 'nat-pmp' ? Math.ceil(this.#o.ttlMs / 1000) : this.#o.ttlMs
  }

  #leaseMs(protocol: PortMappingProtocol): number {
    return protocol === 'nat-pmp'
      ? Math.ceil(this.#o.ttlMs / 1000) * 1000
      : Math.max(this.#o.ttlMs, 3_600_000)
  }

  #renewTimer(active: Active): NodeJS.Timeout {
    const timer = setTimeout(
      () => void this.#renew(active),
      Math.max(1000, active.info.leaseMs / 2),
    )
    timer.unref()
    return timer
  }

  async #renew(active: Active): Promise<void> {
    if (this.#active !== active) return
    const { info } = active
    try {
      await active.gateway.map(info.internalPort, active.internalHost, {
        protocol: 'udp',
        externalPort: info.externalPort,
        ttl: this.#ttl(info.protocol),
        autoRefresh: false,
        signal: AbortSignal.timeout(this.#o.timeoutMs),
      })
      info.renewals++
      delete info.lastError
      this.#log.trace('renewed the %s mapping of UDP %d', info.protocol, info.internalPort)
    } catch (err) {
      info.lastError = describeError(err)
      this.#log.error('renewing the port mapping failed: %s', info.lastError)
    }
    if (this.#active === active) active.timer = this.#renewTimer(active)
  }

  /** Deletes the mapping on the router (bounded by the timeout). Idempotent. */
  async stop(): Promise<void> {
    const active = this.#active
    if (active === undefined) return
    this.#active = undefined
    clearTimeout(active.timer)
    const signal = AbortSignal.timeout(this.#o.timeoutMs)
    try {
      await deleteMapping(active, signal)
      this.#log('deleted the port mapping of UDP %d', active.info.internalPort)
    } catch (err) {
      this.#log.error('deleting the port mapping failed: %s', describeError(err))
    }
    await active.gateway.stop({ signal }).catch(() => {})
  }
}

/**
 * nat-port-mapper 4.0.5's `unmap` deletes a NAT-PMP mapping as TCP and a UPnP one with an empty
 * protocol, which miniupnpd refuses: a UDP mapping would stay until its lease ends. NAT-PMP
 * deletes with a zero lifetime (RFC 6886 §3.4), which `map` can send; for UPnP the library's
 * call is all there is, and the lease bounds what it leaves behind.
 */
async function deleteMapping(active: Active, signal: AbortSignal): Promise<void> {
  const { info, gateway } = active
  if (info.protocol === 'upnp') return gateway.unmap(info.internalPort, { signal })
  await gateway.map(info.internalPort, active.internalHost, {
    protocol: 'udp',
    externalPort: 0,
    ttl: 0,
    autoRefresh: false,
    signal,
  })
}

async function findGateway(
  protocol: PortMappingProtocol,
  signal: AbortSignal,
): Promise<Gateway | undefined> {
  if (protocol === 'nat-pmp') {
    const router = await defaultGateway()
    return router === undefined ? undefined : pmpNat(router, { autoRefresh: false })
  }
  const client = upnpNat({ autoRefresh: false })
  try {
    for await (const gateway of client.findGateways({ signal })) {
      if (gateway.family === 'IPv4') return gateway
      await gateway.stop().catch(() => {})
    }
  } catch (err) {
    if (!signal.aborted) throw err
  }
  return undefined
}

/** The IPv4 default gateway from the kernel's routing table (Linux); undefined elsewhere. */
async function defaultGateway(): Promise<string | undefined> {
  const table = await readFile('/proc/net/route', 'utf8').catch(() => '')
  for (const line of table.split('\n').slice(1)) {
    const [, destination, gateway] = line.trim().split(/\s+/)
    if (destination !== '00000000' || gateway === undefined || gateway === '00000000') continue
    const n = Number.parseInt(gateway, 16) // little-endian hex
    return [n & 255, (n >>> 8) & 255, (n >>> 16) & 255, n >>> 24].join('.')
  }
  return undefined
}
