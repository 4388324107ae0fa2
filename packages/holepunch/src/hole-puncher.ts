import { networkInterfaces } from 'node:os'
import type { AbortOptions, CreateLogger, Logger } from '@harddrive-party/wire-protocol'
import type { CreateSocket, DatagramSocket } from './datagram-socket'
import { normalizeHost } from './datagram-socket'
import { HolepunchError, type HolepunchErrorCode, isHolepunchError } from './errors'
import { defaultLogger } from './logger'
import { type DetectNatOptions, detectNat } from './nat-detect'
import type { NatReport } from './nat-type'
import { emitProgress, type PunchStats, type PunchTechnique } from './progress'
import { type AttemptEndpoint, type AttemptSpec, runAttempt } from './punch-attempt'
import { PUNCH_LIMITS, PunchRateLimiter } from './punch-limits'
import type { PunchOptions, PunchRequest, PunchResult } from './punch-options'
import { derivePunchKey } from './punch-packet'
import { type LocalNat, planPunch, type RemotePeer } from './punch-plan'
import type { StunServer } from './stun-servers'

export interface HolePuncherOptions {
  /** The transport's main socket: STUN, probes and the punched path all use its port. */
  socket: DatagramSocket
  /** Makes extra sockets for the birthday method's hard side (transport's `createSocket`). */
  createSocket?: CreateSocket
  /** STUN servers (`host:port`) for `detectNat`; default the public list, shuffled. */
  stunServers?: ReadonlyArray<string | StunServer>
  /**
   * Our subnets (CIDRs): LAN addresses outside them are never punched (see `planPunch`). Default:
   * this host's interfaces (`os.networkInterfaces()`), read at each punch.
   */
  localSubnets?: () => readonly string[]
  /** Logger of each component; default `debug('hdp:holepunch:<component>')`. */
  logger?: CreateLogger
}

/**
 * STUN, NAT classification and hole punching on one UDP port. At most one birthday attempt runs
 * at a time per instance (each one fills NAT tables); a few others wait their turn. Attempts are
 * rate-limited per target IP and overall (`PUNCH_LIMITS`).
 */
export interface HolePuncher {
  /** The last NAT report, if `detectNat` ran. */
  readonly nat: NatReport | undefined
  /** Idempotent; `detectNat` and `punch` reject with `NOT_STARTED` before it. */
  start(options?: AbortOptions): Promise<void>
  /** Aborts every attempt in flight and waits for them to release their sockets. Idempotent. */
  stop(): Promise<void>
  /** Asks STUN servers from the main socket and classifies the NAT. */
  detectNat(options?: DetectNatOptions): Promise<NatReport>
  /** Connects to a peer through both NATs with the technique their types call for. */
  punch(request: PunchRequest, options?: PunchOptions): Promise<PunchResult>
  /** `stop()`, for `await using`. */
  [Symbol.asyncDispose](): Promise<void>
}

/** Creates (does not start) a hole puncher on the caller's socket. */
export function createHolePuncher(options: HolePuncherOptions): HolePuncher {
  return new HolePuncherImpl(options)
}

type State = 'stopped' | 'started'

class HolePuncherImpl implements HolePuncher {
  readonly #socket: DatagramSocket
  readonly #createSocket: CreateSocket | undefined
  readonly #stunServers: ReadonlyArray<string | StunServer> | undefined
  #state: State = 'stopped'
  #shutdown = new AbortController()
  #inflight = new Set<Promise<unknown>>()
  #birthdayQueue: Promise<void> = Promise.resolve()
  /** Birthday attempts running or waiting their turn. */
  #birthdays = 0
  readonly #limiter = new PunchRateLimiter()
  readonly #localSubnets: () => readonly string[]
  readonly #logger: CreateLogger
  readonly #log: Logger
  readonly #attemptLog: Logger
  #nat: NatReport | undefined

  constructor(options: HolePuncherOptions) {
    this.#socket = options.socket
    this.#createSocket = options.createSocket
    this.#stunServers = options.stunServers
    this.#localSubnets = options.localSubnets ?? interfaceSubnets
    this.#logger = options.logger ?? defaultLogger
    this.#log = this.#logger('puncher')
    this.#attemptLog = this.#logger('attempt')
  }

  get nat(): NatReport | undefined {
    return this.#nat
  }

  async start(options: AbortOptions = {}): Promise<void> {
    options.signal?.throwIfAborted()
    if (this.#state === 'started') return
    this.#shutdown = new AbortController()
    this.#state = 'started'
  }

  async stop(): Promise<void> {
    if (this.#state !== 'started') return
    this.#state = 'stopped'
    this.#shutdown.abort()
    await Promise.allSettled([...this.#inflight])
  }

  async [Symbol.asyncDispose](): Promise<void> {
    await this.stop()
  }

  /** Asks STUN servers from the main socket and classifies the NAT; see `detectNat`. */
  detectNat(options: DetectNatOptions = {}): Promise<NatReport> {
    if (this.#state !== 'started') return Promise.reject(notStarted())
    const signal = this.#signal(options.signal)
    const servers = options.servers ?? this.#stunServers
    return this.#track(
      detectNat(
        this.#socket,
        { ...options, ...(servers ? { servers } : {}), signal },
        this.#logger,
      ).then((report) => {
        this.#nat = report
        return report
      }),
    )
  }

  /**
   * Connects to a peer through both NATs with the technique their types call for, and resolves
   * with the socket and remote address that completed a two-way exchange. Rejects with
   * `RELAY_REQUIRED`, `NO_REMOTE_ADDRESS`, `RATE_LIMITED`, `NO_SOCKET_FACTORY`, `SOCKET_FAILED`,
   * `PUNCH_TIMEOUT`, `NOT_STARTED` or the signal's reason.
   */
  punch(request: PunchRequest, options: PunchOptions = {}): Promise<PunchResult> {
    // Returned, not async: the caller's promise is the tracked one, handled as soon as it exists.
    if (this.#state !== 'started') return Promise.reject(notStarted())
    const signal = this.#signal(options.signal)
    const key = derivePunchKey(request.secret)
    const local = request.local ?? this.#nat ?? { nat: 'unknown' as const }
    return this.#track(this.#punch(key, local, request.remote, options, signal))
  }

  async #punch(
    key: Uint8Array,
    local: LocalNat,
    remote: RemotePeer,
    options: PunchOptions,
    signal: AbortSignal,
  ): Promise<PunchResult> {
    const { onProgress } = options
    const plan = planPunch(local, remote, { localSubnets: this.#localSubnets() })
    const refuse = (technique: PunchTechnique, code: HolepunchErrorCode, reason: string): never => {
      const stats: PunchStats = { technique, role: 'both', packetsSent: 0, elapsedMs: 0 }
      emitProgress(onProgress, {
        type: 'holepunch:attempt',
        detail: { ...stats, localNat: local.nat, remoteNat: remote.nat, candidates: [] },
      })
      emitProgress(onProgress, { type: 'holepunch:failure', detail: { ...stats, code, reason } })
      throw new HolepunchError(code, reason)
    }
    if (!plan.ok) return refuse(plan.technique ?? 'direct', plan.code, plan.reason)
    const birthday = plan.technique === 'birthday'
    if (birthday && this.#birthdays > PUNCH_LIMITS.queuedBirthdays) {
      refuse('birthday', 'RATE_LIMITED', `${this.#birthdays} birthday attempts already queued`)
    }
    const targets = plan.candidates.map((c) => c.host)
    if (plan.sprayHost !== undefined) targets.push(plan.sprayHost)
    if (plan.openTarget !== undefined) targets.push(plan.openTarget.host)
    // A random-port spray (thousands of probes at one IP) takes that IP's whole burst.
    const cost = plan.sprayHost !== undefined ? PUNCH_LIMITS.perIp.burst : 1
    const verified = new Set([...(options.verifiedHosts ?? [])].map(normalizeHost))
    const exhausted = this.#limiter.take(targets, cost, verified)
    if (exhausted !== undefined) {
      refuse(
        plan.technique,
        'RATE_LIMITED',
        exhausted === 'overall'
          ? 'too many punch attempts; try again shortly'
          : `too many punch attempts towards ${exhausted}; try again shortly`,
      )
    }
    const started = performance.now()
    if (birthday) this.#birthdays++
    let release = (): void => {}
    try {
      if (birthday) release = await this.#birthdayTurn(signal)
      const spec: AttemptSpec = {
        technique: plan.technique,
        role: plan.role,
        key,
        endpoints: [{ socket: this.#socket, created: false, candidates: plan.candidates }],
        timeoutMs: options.timeoutMs ?? (birthday ? 30_000 : 10_000),
        maxPackets: options.maxPackets ?? (birthday ? (options.maxProbes ?? 3000) + 600 : 400),
        probeIntervalMs: options.probeIntervalMs ?? 50,
        slowIntervalMs: options.slowIntervalMs ?? 250,
      }
      emitProgress(onProgress, {
        type: 'holepunch:attempt',
        detail: {
          technique: spec.technique,
          role: spec.role,
          packetsSent: 0,
          elapsedMs: 0,
          localNat: local.nat,
          remoteNat: remote.nat,
          candidates: [...plan.candidates],
        },
      })
      if (plan.sprayHost !== undefined) {
        spec.spray = {
          host: plan.sprayHost,
          maxProbes: options.maxProbes ?? 3000,
          intervalMs: options.sprayIntervalMs ?? 5,
        }
      }
      if (plan.openTarget !== undefined) {
        const extra = await this.#openSockets(options.birthdaySockets ?? 256, signal).catch(
          (err: unknown) => {
            const code = isHolepunchError(err) ? err.code : 'ABORTED'
            emitProgress(onProgress, {
              type: 'holepunch:failure',
              detail: {
                technique: spec.technique,
                role: spec.role,
                packetsSent: 0,
                elapsedMs: Math.round(performance.now() - started),
                code,
                reason: (err as Error)?.message ?? String(err),
              },
            })
            throw err
          },
        )
        const ttl = options.openingTtl ?? 5
        spec.endpoints.push(...extra.sockets)
        spec.openers = {
          target: plan.openTarget,
          intervalMs: options.reopenIntervalMs ?? 10_000,
          ...(ttl > 0 ? { ttl } : {}),
        }
        emitProgress(onProgress, {
          type: 'holepunch:sockets',
          detail: {
            technique: spec.technique,
            role: spec.role,
            packetsSent: 0,
            elapsedMs: Math.round(performance.now() - started),
            opened: extra.sockets.length,
            failed: extra.failed,
          },
        })
      }
      const win = await runAttempt(spec, {
        signal,
        onProgress,
        lingerMs: options.lingerMs ?? 3000,
        lingerSignal: this.#shutdown.signal,
        log: this.#attemptLog,
      })
      return {
        ...win,
        technique: plan.technique,
        elapsedMs: Math.round(performance.now() - started),
      }
    } finally {
      if (birthday) this.#birthdays--
      release()
    }
  }

  /** Opens the birthday sockets; a few failures are tolerated, none at all is an error. */
  async #openSockets(
    count: number,
    signal: AbortSignal,
  ): Promise<{ sockets: AttemptEndpoint[]; failed: number }> {
    const factory = this.#createSocket
    if (factory === undefined) {
      throw new HolepunchError(
        'NO_SOCKET_FACTORY',
        'the birthday method needs createSocket to open extra sockets',
      )
    }
    const results = await Promise.allSettled(Array.from({ length: count }, async () => factory()))
    const sockets = results.flatMap((r) => (r.status === 'fulfilled' ? [r.value] : []))
    const failed = results.length - sockets.length
    if (failed > 0)
      this.#log(
        '%d of %d extra sockets failed: %O',
        failed,
        count,
        results.find((r) => r.status === 'rejected'),
      )
    if (signal.aborted || (sockets.length === 0 && count > 0)) {
      await Promise.allSettled(sockets.map((s) => s.close()))
      signal.throwIfAborted()
      const cause = results.find((r) => r.status === 'rejected')?.reason
      throw new HolepunchError('SOCKET_FAILED', `none of ${count} extra sockets could be opened`, {
        cause,
      })
    }
    return { sockets: sockets.map((socket) => ({ socket, created: true, candidates: [] })), failed }
  }

  /** Waits until no other birthday attempt runs; returns the function that ends our turn. */
  async #birthdayTurn(signal: AbortSignal): Promise<() => void> {
    let release!: () => void
    const previous = this.#birthdayQueue
    this.#birthdayQueue = new Promise<void>((resolve) => {
      release = resolve
    })
    try {
      await abortable(previous, signal)
    } catch (err) {
      // Keep the queue in order: our turn passes on when the one before us ends.
      previous.then(release, release)
      throw err
    }
    return release
  }

  #signal(signal: AbortSignal | undefined): AbortSignal {
    if (this.#state !== 'started') throw notStarted()
    return signal ? AbortSignal.any([signal, this.#shutdown.signal]) : this.#shutdown.signal
  }

  #track<T>(promise: Promise<T>): Promise<T> {
    this.#inflight.add(promise)
    const forget = (): void => {
      this.#inflight.delete(promise)
    }
    promise.then(forget, forget)
    return promise
  }
}

function notStarted(): HolepunchError {
  return new HolepunchError('NOT_STARTED', 'the hole puncher is not started: call start() first')
}

/** This host's subnets, from its interfaces (loopback included: peers on our own host). */
function interfaceSubnets(): string[] {
  return Object.values(networkInterfaces()).flatMap((list) =>
    (list ?? []).flatMap((i) => (i.cidr ? [i.cidr] : [])),
  )
}

function abortable(promise: Promise<void>, signal: AbortSignal): Promise<void> {
  signal.throwIfAborted()
  return new Promise<void>((resolve, reject) => {
    const onAbort = (): void => reject(signal.reason)
    signal.addEventListener('abort', onAbort, { once: true })
    promise.then(
      () => {
        signal.removeEventListener('abort', onAbort)
        resolve()
      },
      (err: unknown) => {
        signal.removeEventListener('abort', onAbort)
        reject(err)
      },
    )
  })
}
