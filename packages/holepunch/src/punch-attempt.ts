import { randomBytes, randomInt } from 'node:crypto'
import type { Logger } from '@harddrive-party/wire-protocol'
import {
  type DatagramSocket,
  formatAddress,
  type SocketAddress,
  sameAddress,
} from './datagram-socket'
import { HolepunchError } from './errors'
import {
  emitProgress,
  type OnProgress,
  type PunchRole,
  type PunchStats,
  type PunchTechnique,
} from './progress'
import {
  decodePunchPacket,
  encodePunchPacket,
  isPunchPacket,
  PUNCH_NONCE_BYTES,
  type PunchPacket,
} from './punch-packet'

/** A learned address is kept as a candidate only up to this many per socket (spoofing bound). */
const MAX_CANDIDATES = 16
/** Replies (acks, probes to a new source) may exceed the scheduled-packet budget by this much. */
const REPLY_ALLOWANCE = 64
/** The fast probing schedule: this many rounds at `probeIntervalMs`, then one round per `slowIntervalMs`. */
const FAST_ROUNDS = 20

export interface AttemptEndpoint {
  socket: DatagramSocket
  /** True for a socket from the `createSocket` factory: closed unless it wins. */
  created: boolean
  /** Addresses probed on the fast schedule from the start. */
  candidates: SocketAddress[]
}

export interface AttemptSpec {
  technique: PunchTechnique
  role: PunchRole
  key: Uint8Array
  endpoints: AttemptEndpoint[]
  /** The birthday hard side: every endpoint sends to `target` now and every `intervalMs`, until it hears the peer. */
  openers?: { target: SocketAddress; ttl?: number; intervalMs: number }
  /** The birthday easy side: probes random ports 1024–65535 of `host` from the first endpoint. */
  spray?: { host: string; maxProbes: number; intervalMs: number }
  timeoutMs: number
  maxPackets: number
  probeIntervalMs: number
  slowIntervalMs: number
}

export interface AttemptWin {
  socket: DatagramSocket
  created: boolean
  remote: SocketAddress
  packetsSent: number
  elapsedMs: number
}

export interface AttemptOptions {
  signal: AbortSignal
  onProgress?: OnProgress | undefined
  /** After winning, keep acknowledging the peer's probes this long so it completes too. */
  lingerMs: number
  /** Ends the linger early (the puncher's shutdown). */
  lingerSignal: AbortSignal
  log: Logger
}

/**
 * Runs one punch attempt over the given sockets: sends authenticated probes, answers the peer's
 * probes with acks, and resolves with the first socket whose probe the peer acknowledged (a
 * two-way exchange). Rejects with `PUNCH_TIMEOUT` or the signal's reason. Created sockets that
 * do not win are closed before it settles.
 */
export function runAttempt(spec: AttemptSpec, options: AttemptOptions): Promise<AttemptWin> {
  const { key, technique, role } = spec
  const { signal, onProgress, log } = options
  signal.throwIfAborted()
  const nonce = new Uint8Array(randomBytes(PUNCH_NONCE_BYTES))
  const probe = encodePunchPacket(key, {
    kind: 'probe',
    nonce,
    echo: new Uint8Array(PUNCH_NONCE_BYTES),
  })
  const started = performance.now()
  let packetsSent = 0
  let contact: SocketAddress | undefined
  let finished = false
  let sprayed = 0
  const timers: Array<ReturnType<typeof setTimeout>> = []
  const unsubscribes = new Map<AttemptEndpoint, () => void>()
  const heard = new Set<AttemptEndpoint>()
  const stats = (): PunchStats => ({
    technique,
    role,
    packetsSent,
    elapsedMs: Math.round(performance.now() - started),
  })

  const send = (
    endpoint: AttemptEndpoint,
    data: Uint8Array,
    to: SocketAddress,
    limit: number,
    ttl?: number,
  ): void => {
    if (packetsSent >= limit) return
    packetsSent++
    const failed = (err: unknown): void =>
      log('send to %s failed: %s', formatAddress(to), (err as Error)?.message)
    try {
      const sending =
        ttl === undefined
          ? endpoint.socket.send(data, to.port, to.host)
          : endpoint.socket.send(data, to.port, to.host, { ttl })
      sending.catch(failed)
    } catch (err) {
      failed(err) // a socket that throws instead of rejecting must not end the attempt
    }
  }
  const reply = (endpoint: AttemptEndpoint, packet: PunchPacket, to: SocketAddress): void =>
    send(endpoint, encodePunchPacket(key, packet), to, spec.maxPackets + REPLY_ALLOWANCE)

  return new Promise<AttemptWin>((resolve, reject) => {
    const cleanup = async (winner?: AttemptEndpoint): Promise<void> => {
      finished = true
      for (const t of timers) clearTimeout(t)
      signal.removeEventListener('abort', onAbort)
      for (const [endpoint, unsubscribe] of unsubscribes) if (endpoint !== winner) unsubscribe()
      const closing = spec.endpoints
        .filter((e) => e.created && e !== winner)
        .map((e) => e.socket.close())
      for (const r of await Promise.allSettled(closing)) {
        if (r.status === 'rejected') log('closing an extra socket failed: %O', r.reason)
      }
    }

    const fail = (err: unknown, code: HolepunchError['code'] | 'ABORTED'): void => {
      if (finished) return
      const reason = (err as Error)?.message ?? String(err)
      emitProgress(onProgress, { type: 'holepunch:failure', detail: { ...stats(), code, reason } })
      cleanup().then(() => reject(err), reject)
    }
    const onAbort = (): void => fail(signal.reason, 'ABORTED')

    const win = (endpoint: AttemptEndpoint, remote: SocketAddress, peerNonce: Uint8Array): void => {
      // Our probe came back acknowledged: a two-way path. Tell the peer its probe got through too
      // (one packet past any budget: without it the peer would wait for its own timeout).
      send(
        endpoint,
        encodePunchPacket(key, { kind: 'ack', nonce, echo: peerNonce }),
        remote,
        Number.POSITIVE_INFINITY,
      )
      const detail = { ...stats(), remote, localPort: endpoint.socket.port }
      const result: AttemptWin = {
        socket: endpoint.socket,
        created: endpoint.created,
        remote,
        packetsSent,
        elapsedMs: detail.elapsedMs,
      }
      linger(endpoint, remote)
      cleanup(endpoint).then(() => {
        emitProgress(onProgress, { type: 'holepunch:success', detail })
        resolve(result)
      }, reject)
    }

    // The winner keeps answering the peer's probes for a while: its last ack may have been lost.
    const linger = (endpoint: AttemptEndpoint, remote: SocketAddress): void => {
      const unsubscribe = unsubscribes.get(endpoint)
      unsubscribes.delete(endpoint)
      const unsubscribeLinger = endpoint.socket.onMessage((data, from) => {
        if (!isPunchPacket(data) || !sameAddress(from, remote)) return
        const packet = decodePunchPacket(key, data)
        if (packet?.kind !== 'probe' || equal(packet.nonce, nonce)) return
        endpoint.socket
          .send(
            encodePunchPacket(key, { kind: 'ack', nonce, echo: packet.nonce }),
            from.port,
            from.host,
          )
          .catch(() => {})
      })
      unsubscribe?.()
      const end = (): void => {
        clearTimeout(timer)
        options.lingerSignal.removeEventListener('abort', end)
        unsubscribeLinger()
      }
      const timer = setTimeout(end, options.lingerMs)
      timer.unref?.()
      options.lingerSignal.addEventListener('abort', end, { once: true })
    }

    const onPacket = (endpoint: AttemptEndpoint, data: Uint8Array, from: SocketAddress): void => {
      if (finished || !isPunchPacket(data)) return
      const packet = decodePunchPacket(key, data)
      if (packet === undefined || equal(packet.nonce, nonce)) return // forged, foreign, or our own echo
      if (contact === undefined) {
        contact = from
        log('%s: first packet from the peer at %s', technique, formatAddress(from))
        emitProgress(onProgress, { type: 'holepunch:contact', detail: { ...stats(), from } })
      }
      heard.add(endpoint)
      if (packet.kind === 'probe') {
        reply(endpoint, { kind: 'ack', nonce, echo: packet.nonce }, from)
        if (
          !endpoint.candidates.some((c) => sameAddress(c, from)) &&
          endpoint.candidates.length < MAX_CANDIDATES
        ) {
          // Like an ICE peer-reflexive candidate: where the peer's packets come from is where it can be reached.
          endpoint.candidates.push({ ...from })
          send(endpoint, probe, from, spec.maxPackets + REPLY_ALLOWANCE)
        }
      } else if (equal(packet.echo, nonce)) {
        win(endpoint, from, packet.nonce)
      }
    }

    for (const endpoint of spec.endpoints) {
      unsubscribes.set(
        endpoint,
        endpoint.socket.onMessage((data, from) => onPacket(endpoint, data, from)),
      )
    }
    signal.addEventListener('abort', onAbort, { once: true })

    const schedule = (fn: () => void, ms: number): void => {
      if (!finished) timers.push(setTimeout(fn, ms))
    }

    // Fast rounds: every endpoint that has somewhere to send probes it.
    let round = 0
    const probeRound = (): void => {
      if (finished) return
      for (const endpoint of spec.endpoints) {
        // Hard-side sockets that never heard the peer stay quiet: the openers cover them.
        if (spec.openers !== undefined && !heard.has(endpoint)) continue
        for (const candidate of endpoint.candidates)
          send(endpoint, probe, candidate, spec.maxPackets)
      }
      round++
      schedule(probeRound, round < FAST_ROUNDS ? spec.probeIntervalMs : spec.slowIntervalMs)
    }
    probeRound()

    const { openers, spray } = spec
    if (openers !== undefined) {
      const open = (): void => {
        if (finished) return
        for (const endpoint of spec.endpoints) {
          if (!heard.has(endpoint))
            send(endpoint, probe, openers.target, spec.maxPackets, openers.ttl)
        }
        schedule(open, openers.intervalMs)
      }
      open()
    }

    if (spray !== undefined) {
      const endpoint = spec.endpoints[0]!
      const ports = new Set<number>()
      const sprayOne = (): void => {
        if (finished || contact !== undefined || sprayed >= spray.maxProbes) return
        let port: number
        do port = randomInt(1024, 65536)
        while (ports.has(port) && ports.size < 64512)
        ports.add(port)
        sprayed++
        send(endpoint, probe, { host: spray.host, port }, spec.maxPackets)
        schedule(sprayOne, spray.intervalMs)
      }
      sprayOne()
    }

    schedule(() => {
      const waited = Math.round(performance.now() - started)
      const why =
        contact === undefined
          ? `no packet from the peer in ${waited} ms (${packetsSent} sent${spray ? `, ${sprayed} random-port probes` : ''})`
          : `packets from the peer at ${formatAddress(contact)} arrived, but none of ours was acknowledged in ${waited} ms`
      fail(new HolepunchError('PUNCH_TIMEOUT', `${technique}: ${why}`), 'PUNCH_TIMEOUT')
    }, spec.timeoutMs)
  })
}

function equal(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false
  return true
}
