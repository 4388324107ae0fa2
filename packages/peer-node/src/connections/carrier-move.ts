import type { Connection, Transport } from '@harddrive-party/transport'
import type { Logger } from '@harddrive-party/wire-protocol'
import { describeError } from '../errors'
import { type ConnectionRegistry, MOVE_MIN_AGE_MS } from './connection-registry'
import { readTcpLoss, showsLoss, type TcpLossCounters } from './tcp-loss'

/** Below this rate (100 Mbit/s) a bulk transfer on a path that connected like a LAN is slow. */
export const SLOW_BYTES_PER_SECOND = 12_500_000
/** A second that moved less than this carried no bulk data: nothing to judge. */
const BULK_FLOOR_BYTES_PER_SECOND = 64 * 1024
/**
 * The mux's ping RTT at or above this while bulk data flows: bytes wait between the two ends
 * (in the sender's socket, or lost and sent again), not in a reader or a disk. The race took
 * TCP because its connect took under 5 ms, so 10 ms is at least 5 ms of queue.
 */
const QUEUED_RTT_MS = 10
/**
 * Peers from protocol 1.1 on keep a newer direct UDX connection over an older TCP one (the
 * registry's move rule; docs/protocol.md §4). An older peer would keep its TCP connection and
 * close the UDX one, while we drain the TCP one: both lost, for a reconnect a minute later.
 */
const MOVE_RULE_MINOR = 1

export interface CarrierMoverOptions {
  registry: ConnectionRegistry
  transport: Pick<Transport, 'dial'>
  log: Logger
  /**
   * Whether bulk data for the peer (hex key) flows on our side with nothing of ours holding it
   * back: a download from it or an upload to it in progress, not paused, and no rate limit of
   * ours under {@link SLOW_BYTES_PER_SECOND}.
   */
  bulk: (hex: string) => boolean
  /** Seconds in a row that must look slow before a probe. Default 5. */
  slowSeconds?: number
  /** At most one probe per connection this often. Default 60 000. */
  probeIntervalMs?: number
  /** The UDX dial's limit. Default 5000. */
  dialTimeoutMs?: number
  /** Sampling period. Default 1000. */
  sampleMs?: number
  /** Reads the kernel's loss counters of our TCP socket to an address (default: `ss`, Linux). */
  readLoss?: (remote: Connection['remoteAddress']) => Promise<TcpLossCounters | undefined>
}

interface Watch {
  at: number
  sent: number
  received: number
  slow: number
  probedAt: number
  /** The socket's loss counters when this run of slow seconds began. */
  lossBefore: Promise<TcpLossCounters | undefined> | undefined
}

/**
 * Moves a connection from TCP to UDX when TCP loses. The dial race takes TCP on a path that
 * connects in under 5 ms (a LAN), but a LAN with random loss (Wi-Fi) cuts loss-based TCP to a
 * fraction of what UDX keeps. Once a second, for each live direct TCP connection we dialled
 * (we know a listening address of the peer: the same host and port serve UDX), a second is
 * slow when the connection moved bulk bytes at under 100 Mbit/s while our side held nothing
 * back (`bulk`) and the mux's ping RTT says bytes queue between the two ends. After five slow
 * seconds in a row it dials UDX to that address in the background, at most once a minute;
 * the registry's move rule then makes the UDX connection the live one on both ends without a
 * word between them, and drains the TCP one (its open reads are cut within seconds and the
 * downloads resume them over UDX from the bytes on disk). Never from UDX back to TCP.
 */
export class CarrierMover {
  readonly #o: CarrierMoverOptions
  readonly #watch = new WeakMap<Connection, Watch>()
  readonly #probing = new Set<Connection>()
  readonly #shutdown = new AbortController()
  #timer: NodeJS.Timeout | undefined
  /** Moves made (for tests and the log). */
  moves = 0

  constructor(options: CarrierMoverOptions) {
    this.#o = options
  }

  start(): void {
    if (this.#timer !== undefined) return
    this.#timer = setInterval(() => this.#sample(), this.#o.sampleMs ?? 1000)
    this.#timer.unref()
  }

  stop(): void {
    if (this.#timer !== undefined) clearInterval(this.#timer)
    this.#timer = undefined
    this.#shutdown.abort()
  }

  #sample(): void {
    const { registry } = this.#o
    const now = Date.now()
    for (const connection of registry.all()) {
      if (connection.carrier !== 'tcp' || !connection.initiator) continue
      if (connection.remoteVersion[1] < MOVE_RULE_MINOR) continue
      if (registry.isRelayed(connection)) continue
      const stats = connection.stats()
      const watch = this.#watch.get(connection)
      this.#watch.set(connection, {
        at: now,
        sent: stats.bytesSent,
        received: stats.bytesReceived,
        slow: 0,
        probedAt: watch?.probedAt ?? 0,
        lossBefore: undefined,
      })
      if (watch === undefined || now <= watch.at) continue
      const next = this.#watch.get(connection)!
      // Younger than the move rule's age, the registry would not take a UDX connection (and
      // both ends must judge alike): the counting starts after it, so a probe comes 5 s later.
      const since = registry.liveSince(connection) ?? now
      if (now - since < MOVE_MIN_AGE_MS) continue
      // At most one probe per connection per minute: nothing to count (or read) until then.
      if (now - next.probedAt < (this.#o.probeIntervalMs ?? 60_000)) continue
      const seconds = (now - watch.at) / 1000
      const rate =
        Math.max(stats.bytesSent - watch.sent, stats.bytesReceived - watch.received) / seconds
      const hex = Buffer.from(connection.remotePublicKey).toString('hex')
      const slow =
        stats.openStreams > 0 &&
        rate >= BULK_FLOOR_BYTES_PER_SECOND &&
        rate < SLOW_BYTES_PER_SECOND &&
        stats.rttMs >= QUEUED_RTT_MS &&
        this.#o.bulk(hex)
      next.slow = slow ? watch.slow + 1 : 0
      if (next.slow === 1) next.lossBefore = this.#readLoss(connection)
      else if (next.slow > 1) next.lossBefore = watch.lossBefore
      this.#o.log.trace(
        '%s: tcp %d B/s, ping RTT %d ms, %d streams: %s',
        hex.slice(0, 8),
        Math.round(rate),
        Math.round(stats.rttMs),
        stats.openStreams,
        slow ? `slow ${next.slow}` : 'fine',
      )
      if (next.slow < (this.#o.slowSeconds ?? 5) || this.#probing.has(connection)) continue
      next.probedAt = now
      next.slow = 0
      const why = `TCP carried ${(rate / 1e6).toFixed(1)} MB/s for ${this.#o.slowSeconds ?? 5} s with a ${Math.round(stats.rttMs)} ms ping RTT`
      void this.#probe(connection, hex, why, watch.lossBefore)
    }
  }

  #readLoss(connection: Connection): Promise<TcpLossCounters | undefined> {
    const read = this.#o.readLoss ?? readTcpLoss
    return read(connection.remoteAddress).catch(() => undefined)
  }

  /**
   * Where the kernel's counters can be read (Linux), a slow TCP connection moves only when its
   * socket saw loss meanwhile: a clean link slower than 100 Mbit/s (TCP fills it) or a busy
   * CPU also makes slow seconds with a queue, and UDX would not be faster there, only costlier.
   */
  async #probe(
    tcp: Connection,
    hex: string,
    why: string,
    lossBefore: Promise<TcpLossCounters | undefined> | undefined,
  ): Promise<void> {
    this.#probing.add(tcp)
    const limitMs = this.#o.dialTimeoutMs ?? 5000
    try {
      const [before, after] = await Promise.all([lossBefore, this.#readLoss(tcp)])
      if (before !== undefined && after !== undefined) {
        const loss = describeLoss(before, after)
        if (!showsLoss(before, after)) {
          this.#o.log('%s: %s, but no loss (%s); staying on TCP', hex.slice(0, 8), why, loss)
          return
        }
        why += ` and loss (${loss})`
      }
      const { host, port } = tcp.remoteAddress
      this.#o.log('%s: %s; trying UDX at %s:%d', hex.slice(0, 8), why, host, port)
      const udx = await this.#o.transport.dial(tcp.remoteAddress, tcp.remotePublicKey, {
        topic: tcp.topic,
        carriers: ['udx'],
        signal: AbortSignal.any([AbortSignal.timeout(limitMs), this.#shutdown.signal]),
      })
      // The registry's move rule decides (and closes the UDX connection if it loses).
      if (this.#o.registry.add(udx)) {
        this.moves++
        this.#o.log('%s: moved to UDX', hex.slice(0, 8))
      } else this.#o.log('%s: the UDX connection was not taken; staying on TCP', hex.slice(0, 8))
    } catch (err) {
      if (this.#shutdown.signal.aborted) return
      this.#o.log('%s: UDX probe failed (%s); staying on TCP', hex.slice(0, 8), describeError(err))
    } finally {
      this.#probing.delete(tcp)
    }
  }
}

function describeLoss(before: TcpLossCounters, after: TcpLossCounters): string {
  const segments = after.segmentsIn - before.segmentsIn
  const sent = after.bytesSent - before.bytesSent
  const share = (part: number, whole: number) =>
    whole > 0 ? `${((100 * part) / whole).toFixed(2)} %` : '-'
  return `${share(after.outOfOrderIn - before.outOfOrderIn, segments)} of segments in out of order, ${share(after.bytesRetransmitted - before.bytesRetransmitted, sent)} of bytes sent again`
}
