import type { ConnectRequestFound, PeerFound, PeerGone } from '@harddrive-party/discovery'
import type { TopicKeys } from '@harddrive-party/wire-protocol'
import { isDialer } from '@harddrive-party/wire-protocol/internal'
import { describeError } from '../errors'
import {
  type AttemptOptions,
  attemptConnection,
  attemptRemembered,
  beginAttempt,
} from './connection-attempt'
import {
  type AttemptInfo,
  hex,
  newPeerState,
  type PeerState,
  REQUEST_GRACE_MS,
  REQUEST_INTERVAL_MS,
} from './peer-state'
import type { DialAddress } from './technique'

export interface ConnectorOptions extends AttemptOptions {
  /** Retry delays in ms; the last repeats. Deterministic, so both sides retry in step. */
  backoffMs?: readonly number[]
  /**
   * While a peer is connected only through a relay (member or TURN): delays in ms between
   * looks for a direct path; the last repeats. Both sides start them at the same moment.
   */
  upgradeBackoffMs?: readonly number[]
}

export const DEFAULT_BACKOFF_MS = [500, 1000, 2000, 4000, 8000, 16_000, 30_000] as const
/** 30 s doubling to 10 min: a NAT or router that changes is noticed without spending much. */
export const DEFAULT_UPGRADE_BACKOFF_MS = [
  30_000, 60_000, 120_000, 240_000, 480_000, 600_000,
] as const

/**
 * Announcement → technique → punch → dial, per peer, one attempt at a time: the dialer rule
 * (lower key dials) decides who dials, both sides punch when the technique needs it, failed
 * attempts are retried with backoff while the peer is announced, and stop when it is gone.
 */
export class Connector {
  readonly #o: ConnectorOptions
  readonly #peers = new Map<string, PeerState>()
  /** IPs each peer (hex key) was authenticated from: its reconnect punches skip the per-IP limit. */
  readonly #verifiedHosts = new Map<string, Set<string>>()
  readonly #inflight = new Set<Promise<void>>()
  #shutdown = new AbortController()
  #running = false

  constructor(options: ConnectorOptions) {
    this.#o = options
    options.registry.addEventListener('live', ({ detail }) => {
      if (!this.#running) return
      const state = this.#state(detail.key) // a peer that dialled us may be new to us
      const hosts = this.#verifiedHosts.get(state.hex) ?? new Set<string>()
      // A relayed connection's address is the relay's, not the peer's.
      if (hosts.size < 8 && detail.connection.carrier !== 'relay')
        hosts.add(detail.connection.remoteAddress.host)
      this.#verifiedHosts.set(state.hex, hosts)
      this.#clearTimer(state)
      state.reconnecting = false
      if (state.info) state.info.failures = 0
      // Relayed: look for a direct path now and then; direct: stop looking.
      this.#clearUpgrade(state)
      state.upgradeLooks = 0
      if (options.registry.isRelayed(detail.connection)) this.#scheduleUpgrade(state)
      if (!detail.connection.initiator && state.attempt?.phase !== 'wait') {
        const info = beginAttempt(
          state,
          this.#o.localNat(),
          state.info?.theirNat ?? 'unknown',
          state.info?.via ?? 'mqtt',
        )
        info.tried.push('accepted')
        info.used = 'accepted'
        info.elapsedMs = 0
        delete info.failure
      }
      // The remote's dial won while we were still punching towards it: that punch is moot.
      if (state.attempt?.phase === 'punch' && !this.#weDial(state)) state.attempt.controller.abort()
      // A member that relays is now reachable: peers that needed one need not wait out their backoff.
      const relays = [...state.announcements.values()].some((f) => f.announcement.relay === true)
      if (relays && detail.connection.carrier !== 'relay') {
        for (const other of this.#peers.values()) {
          if (other === state || other.timer === undefined) continue
          if (other.info?.tried.includes('relay')) this.#schedule(other, this.#delay(0))
        }
      }
    })
    options.registry.addEventListener('gone', ({ detail }) => {
      const state = this.#peers.get(hex(detail.key))
      if (state === undefined || !this.#running) return
      this.#clearUpgrade(state)
      state.reconnecting = true
      if (state.announcements.size > 0) this.#schedule(state, this.#delay(0))
    })
  }

  start(): void {
    if (this.#running) return
    this.#running = true
    this.#shutdown = new AbortController()
  }

  /** Aborts every attempt and timer, and waits for the attempts to end. */
  async stop(): Promise<void> {
    if (!this.#running) return
    this.#running = false
    this.#shutdown.abort()
    for (const state of this.#peers.values()) {
      this.#clearTimer(state)
      this.#clearUpgrade(state)
    }
    await Promise.allSettled([...this.#inflight])
    this.#peers.clear()
  }

  info(hexKey: string): AttemptInfo | undefined {
    return this.#peers.get(hexKey)?.info
  }

  /** Peers announced on a joined topic now, by hex key. */
  announced(): Map<string, PeerFound[]> {
    const out = new Map<string, PeerFound[]>()
    for (const [k, s] of this.#peers) {
      if (s.announcements.size > 0) out.set(k, [...s.announcements.values()])
    }
    return out
  }

  /** A verified announcement (new or changed): connect unless connected. */
  onPeer(found: PeerFound): void {
    if (!this.#running) return
    const state = this.#state(found.announcement.key)
    state.announcements.set(`${found.topic.publicId}/${found.via}`, found)
    // A relayed connection is kept only until a direct one works: a new announcement may allow it.
    const live = this.#o.registry.get(state.hex)
    if ((live !== undefined && !this.#o.registry.isRelayed(live)) || state.attempt !== undefined)
      return
    this.#clearTimer(state)
    this.#run(state)
  }

  /**
   * Our own announcement changed (NAT report, addresses, a port mapping or TURN allocation):
   * peers we reach only through a relay are planned again now, as a direct path may exist.
   */
  onLocalChange(): void {
    if (!this.#running) return
    for (const state of this.#peers.values()) {
      const live = this.#o.registry.get(state.hex)
      if (live === undefined || !this.#o.registry.isRelayed(live)) continue
      if (state.attempt !== undefined || state.announcements.size === 0) continue
      this.#run(state)
    }
  }

  onGone(gone: PeerGone): void {
    const state = this.#peers.get(hex(gone.key))
    if (state === undefined) return
    state.announcements.delete(`${gone.topic.publicId}/${gone.via}`)
    if (state.announcements.size === 0) this.#clearUpgrade(state)
    if (state.announcements.size === 0) this.#forget(state)
  }

  /**
   * A member asked us to punch now: its connection to us is gone (ours may not know yet). Its
   * request is signed and fresher than its announcement, so its addresses and NAT replace it.
   */
  onConnectRequest({ topic, request }: ConnectRequestFound): void {
    if (!this.#running) return
    const state = this.#peers.get(hex(request.from))
    if (state === undefined || !state.announcements.has(`${topic.publicId}/mqtt`)) return
    const now = Date.now()
    if (now - state.requestTakenAt < REQUEST_INTERVAL_MS) return
    // Sent by the attempt that just made our connection (it raced the connection here).
    const live = this.#o.registry.get(state.hex)
    if (live && now - (this.#o.registry.liveSince(live) ?? 0) < REQUEST_GRACE_MS) return
    state.requestTakenAt = now
    const { from, to: _to, ...fields } = request
    state.announcements.set(`${topic.publicId}/mqtt`, {
      topic,
      via: 'mqtt',
      proof: 'signature',
      announcement: { ...fields, key: from },
    })
    if (state.attempt !== undefined) return // already trying: it punches as well
    this.#clearTimer(state)
    this.#run(state)
  }

  /**
   * We left a topic: forget its announcements, stop trying peers only it justified, and close
   * connections proven under it unless another joined topic still announces the peer.
   */
  async onLeave(topic: TopicKeys): Promise<void> {
    for (const state of [...this.#peers.values()]) {
      for (const k of [...state.announcements.keys()]) {
        if (k.startsWith(`${topic.publicId}/`)) state.announcements.delete(k)
      }
      if (state.announcements.size === 0) this.#forget(state)
    }
    const closing = this.#o.registry.all().filter((c) => {
      if (c.topic.publicId !== topic.publicId) return false
      return (this.#peers.get(hex(c.remotePublicKey))?.announcements.size ?? 0) === 0
    })
    await Promise.allSettled(closing.map((c) => c.close()))
  }

  /** A peer from the peer book: one direct try at its last addresses, if we are its dialer. */
  tryRemembered(key: Uint8Array, topic: TopicKeys, addresses: DialAddress[]): void {
    if (!this.#running || !isDialer(this.#o.publicKey, key)) return
    const state = this.#state(key)
    if (this.#o.registry.get(state.hex) !== undefined || state.attempt !== undefined) return
    this.#launch(state, async (signal) => {
      await attemptRemembered(this.#o, state, topic, addresses, signal)
    })
  }

  #run(state: PeerState): void {
    this.#launch(state, (signal) =>
      attemptConnection(this.#o, (s) => this.#verifiedHosts.get(s.hex) ?? [], state, signal),
    )
  }

  #launch(state: PeerState, work: (signal: AbortSignal) => Promise<void>): void {
    // A look for a direct path while relayed: its failure is shown, not counted (no backoff).
    const live = this.#o.registry.get(state.hex)
    const upgrading = live !== undefined && this.#o.registry.isRelayed(live)
    const controller = new AbortController()
    state.attempt = { controller, phase: 'dial' }
    const signal = AbortSignal.any([controller.signal, this.#shutdown.signal])
    const done = (async () => {
      try {
        await work(signal)
      } catch (err) {
        // Cancelled (the peer connected, left, or we stop) is not a failure.
        if (!signal.aborted) {
          if (state.info) {
            state.info.failure = describeError(err)
            if (!upgrading) state.info.failures++
          }
          this.#o.log('%s: attempt failed: %s', state.hex.slice(0, 8), describeError(err))
        }
      } finally {
        state.attempt = undefined
      }
      const connected = this.#o.registry.get(state.hex) !== undefined
      if (
        !connected &&
        this.#running &&
        state.announcements.size > 0 &&
        !controller.signal.aborted
      ) {
        this.#schedule(state, this.#delay(state.info?.failures ?? 0))
      }
    })()
    this.#inflight.add(done)
    void done.finally(() => this.#inflight.delete(done))
  }

  #schedule(state: PeerState, delayMs: number): void {
    this.#clearTimer(state)
    if (state.info) state.info.nextAttemptAt = Date.now() + delayMs
    state.timer = setTimeout(() => {
      state.timer = undefined
      if (state.info) delete state.info.nextAttemptAt
      if (!this.#running || state.attempt !== undefined) return
      if (this.#o.registry.get(state.hex) !== undefined || state.announcements.size === 0) return
      this.#run(state)
    }, delayMs)
  }

  #delay(failures: number): number {
    const steps = this.#o.backoffMs ?? DEFAULT_BACKOFF_MS
    return steps[Math.min(failures, steps.length - 1)] ?? 1000
  }

  /** The next look for a direct path while relayed (30 s doubling to 10 min by default). */
  #scheduleUpgrade(state: PeerState): void {
    const steps = this.#o.upgradeBackoffMs ?? DEFAULT_UPGRADE_BACKOFF_MS
    const delayMs = steps[Math.min(state.upgradeLooks, steps.length - 1)] ?? 600_000
    if (state.info) state.info.nextUpgradeAt = Date.now() + delayMs
    state.upgradeTimer = setTimeout(() => {
      state.upgradeTimer = undefined
      const live = this.#o.registry.get(state.hex)
      if (!this.#running || live === undefined || !this.#o.registry.isRelayed(live)) return
      state.upgradeLooks++
      this.#scheduleUpgrade(state)
      if (state.attempt !== undefined || state.announcements.size === 0) return
      this.#run(state)
    }, delayMs)
  }

  #clearUpgrade(state: PeerState): void {
    if (state.upgradeTimer !== undefined) clearTimeout(state.upgradeTimer)
    state.upgradeTimer = undefined
    if (state.info) delete state.info.nextUpgradeAt
  }

  #forget(state: PeerState): void {
    this.#clearTimer(state)
    this.#clearUpgrade(state)
    state.attempt?.controller.abort()
  }

  #clearTimer(state: PeerState): void {
    if (state.timer !== undefined) clearTimeout(state.timer)
    state.timer = undefined
    if (state.info) delete state.info.nextAttemptAt
  }

  #weDial(state: PeerState): boolean {
    return isDialer(this.#o.publicKey, state.key)
  }

  #state(key: Uint8Array): PeerState {
    const k = hex(key)
    let state = this.#peers.get(k)
    if (state === undefined) {
      state = newPeerState(key)
      this.#peers.set(k, state)
    }
    return state
  }
}
