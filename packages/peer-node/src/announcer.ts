import { networkInterfaces } from 'node:os'
import type { AnnouncementInput } from '@harddrive-party/discovery'
import type { HolePuncher, LocalNat, NatReport } from '@harddrive-party/holepunch'
import type { AnnouncedAddress } from '@harddrive-party/wire-protocol'
import { TypedEventEmitter } from 'main-event'
import { describeError } from './errors'
import type { PeerNodeLogger } from './logger'

export interface AnnouncerOptions {
  puncher: HolePuncher
  /** The transport's bound address. */
  address: () => { port: number; tcp: boolean }
  /** STUN servers; empty: no detection, the NAT stays `unknown`. */
  stunServers: readonly string[]
  /** Bound on one NAT detection. */
  natTimeoutMs: number
  /** Our LAN addresses to announce; default every non-internal IPv4 interface address. */
  lanAddresses: readonly string[] | undefined
  log: PeerNodeLogger
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

  constructor(options: AnnouncerOptions) {
    super()
    this.#o = options
    this.#report = unknownReport(0, 'not detected yet')
  }

  get report(): NatReport {
    return this.#report
  }

  localNat(): LocalNat {
    const r = this.#report
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
    const r = this.#report
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
    for (const a of list ?? []) if (a.family === 'IPv4' && !a.internal) out.push(a.address)
  }
  return out
}
