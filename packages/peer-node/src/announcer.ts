import { networkInterfaces } from 'node:os'
import type { AnnouncementInput } from '@harddrive-party/discovery'
import type { HolePuncher, LocalNat, NatReport } from '@harddrive-party/holepunch'
import type { AnnouncedAddress, Logger } from '@harddrive-party/wire-protocol'
import { classifyAddress } from '@harddrive-party/wire-protocol/internal'
import { TypedEventEmitter } from 'main-event'
import { describeError } from './errors'

export interface AnnouncerOptions {
  puncher: HolePuncher
  /** The transport's bound address. */
  address: () => { host: string; port: number; tcp: boolean }
  /** STUN servers; empty: no detection, the NAT stays `unknown`. */
  stunServers: readonly string[]
  /** Bound on one NAT detection. */
  natTimeoutMs: number
  /** Our LAN addresses to announce; default every non-internal IPv4 interface address. */
  lanAddresses: readonly string[] | undefined
  /** Our global IPv6 addresses to announce; default every global one of our interfaces (when bound dual-stack). */
  ipv6Addresses?: readonly string[] | undefined
  log: Logger
}

export interface AnnouncerEvents {
  /** Our NAT report or addresses changed (re-announce). */
  change: CustomEvent<NatReport>
}

/**
 * What we tell topic members about ourselves: our LAN addresses and, from STUN, our public
 * address and NAT type. Detection never fails: no STUN server reachable means `unknown`.
 */
export class Announcer extends TypedEventEmitter<AnnouncerEvents> {
  readonly #o: AnnouncerOptions
  #report: NatReport
  #lan: string[] = []
  #ipv6: string[] = []
  #mapping: { host: string; port: number } | undefined

  constructor(options: AnnouncerOptions) {
    super()
    this.#o = options
    this.#report = unknownReport(0, 'not detected yet')
  }

  /** The last NAT report, with a usable port mapping applied. */
  get report(): NatReport {
    return this.#effective()
  }

  /**
   * A port mapping on our router (UPnP / NAT-PMP): while set, and when its external address is
   * the one STUN sees us at (a mapping on an inner router of a double NAT does not help),
   * we are reachable as is: we announce the mapped address and NAT `open`.
   */
  setMapping(mapping: { host: string; port: number } | undefined): void {
    const before = JSON.stringify(this.announcement())
    this.#mapping = mapping
    if (JSON.stringify(this.announcement()) !== before) {
      this.safeDispatchEvent('change', { detail: this.#report })
    }
  }

  /** The report with a usable port mapping applied: what we announce and plan with. */
  #effective(): NatReport {
    const r = this.#report
    const m = this.#mapping
    if (m === undefined) return r
    if (r.publicAddress !== undefined && r.publicAddress.host !== m.host) return r
    return {
      ...r,
      nat: 'open',
      portAllocation: 'unknown',
      publicAddress: { host: m.host, port: m.port },
      reason: `${r.reason}; port mapped by our router at ${m.host}:${m.port}`,
    }
  }

  /** Whether we announce a global IPv6 address (and can dial one). */
  get hasIpv6(): boolean {
    return this.#ipv6.length > 0
  }

  localNat(): LocalNat {
    const r = this.#effective()
    return {
      nat: r.nat,
      portAllocation: r.portAllocation,
      ...(r.publicAddress ? { publicAddress: r.publicAddress } : {}),
    }
  }

  announcement(): AnnouncementInput {
    const { port, tcp } = this.#o.address()
    const addresses: AnnouncedAddress[] = this.#lan.map((host) => ({
      host,
      port,
      kind: 'lan',
      tcp,
    }))
    // Global IPv6 needs no punching: announced first, so a peer with IPv6 dials it first.
    for (const host of this.#ipv6) addresses.push({ host, port, kind: 'public', tcp })
    const r = this.#effective()
    if (r.publicAddress && !this.#lan.includes(r.publicAddress.host)) {
      // A hard NAT's port is only meaningful to the STUN server that saw it.
      const portKnown = r.nat !== 'hard' || r.portAllocation === 'sequential'
      addresses.push({
        host: r.publicAddress.host,
        port: portKnown ? r.publicAddress.port : 0,
        kind: 'public',
        tcp: r.nat === 'open' && tcp,
      })
    }
    return {
      addresses: addresses.slice(0, 16),
      nat: r.nat,
      ...(r.portAllocation !== 'unknown' ? { portAllocation: r.portAllocation } : {}),
    }
  }

  /** Detects the NAT and reads our addresses again; emits `change` when anything differs. */
  async refresh(signal: AbortSignal): Promise<void> {
    const before = JSON.stringify(this.announcement())
    this.#lan = [...(this.#o.lanAddresses ?? interfaceAddresses())]
    const dualStack = this.#o.address().host.includes(':')
    this.#ipv6 = dualStack ? [...(this.#o.ipv6Addresses ?? globalIpv6Addresses())].slice(0, 4) : []
    const port = this.#o.address().port
    if (this.#o.stunServers.length === 0) {
      this.#report = unknownReport(port, 'no STUN server configured')
    } else {
      try {
        this.#report = await this.#o.puncher.detectNat({
          servers: this.#o.stunServers,
          timeoutMs: this.#o.natTimeoutMs,
          signal,
        })
      } catch (err) {
        if (signal.aborted) return
        this.#o.log.error('NAT detection failed: %s', describeError(err))
        this.#report = unknownReport(port, `NAT detection failed: ${describeError(err)}`)
      }
    }
    this.#o.log('NAT %s (%s)', this.#report.nat, this.#report.reason)
    if (JSON.stringify(this.announcement()) !== before) {
      this.safeDispatchEvent('change', { detail: this.#report })
    }
  }
}

function unknownReport(localPort: number, reason: string): NatReport {
  return {
    nat: 'unknown',
    portAllocation: 'unknown',
    localPort,
    bindings: [],
    portSteps: [],
    reason,
  }
}

function interfaceAddresses(): string[] {
  const out: string[] = []
  for (const list of Object.values(networkInterfaces())) {
    // A public address on our own interface (an open host) is announced from STUN as `public`;
    // `lan` holds only the classes a LAN address may have.
    for (const a of list ?? []) {
      if (a.family === 'IPv4' && !a.internal && classifyAddress(a.address) === 'private')
        out.push(a.address)
    }
  }
  return out
}

/** Global-scope IPv6 interface addresses: never link-local, ULA (`private`) or loopback. */
function globalIpv6Addresses(): string[] {
  const out: string[] = []
  for (const list of Object.values(networkInterfaces())) {
    for (const a of list ?? []) {
      if (a.family !== 'IPv6' || a.internal || a.address.includes('%')) continue
      const cls = classifyAddress(a.address)
      if (cls === 'global' || cls === 'documentation') out.push(a.address)
    }
  }
  return out
}
