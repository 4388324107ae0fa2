import { normalizeHost } from './datagram-socket'

/**
 * How many punch attempts an announcement can cause (issue 9.5). A member can announce any
 * address that passes wire-protocol's class rules and mint fresh keys at will, so each attempt
 * costs tokens of two buckets, taken all or none:
 * - `perIp`: a burst of 3 attempts towards one IP, then one more every 30 s. A real peer needs one
 *   attempt and a retry or two after a lost race; more towards one IP is someone using us to send
 *   packets to it. IPs the caller names as `verifiedHosts` (the peer completed an authenticated
 *   connection from them before) are exempt, so reconnects after drops are never held back. The birthday easy side's spray (up to `maxProbes` random-port probes to one IP)
 *   costs the whole burst: at most one spray per IP every 90 s. (The hard side's openers go out
 *   with a TTL too low to reach the peer's NAT, and cost 1.)
 * - `overall`: a burst of 32 (joining a topic with many peers), then one attempt every 2 s. It caps
 *   the total, and how fast anyone can push an IP out of the per-IP table.
 * - `trackedIps`: per-IP buckets kept; the oldest goes first. Cycling one out takes 4096 attempts,
 *   over 2 hours at the overall rate.
 * - `queuedBirthdays`: birthday attempts waiting for the running one (each fills NAT tables for up
 *   to 30 s); more are refused with `RATE_LIMITED`.
 */
export const PUNCH_LIMITS = {
  perIp: { burst: 3, refillMs: 30_000 },
  overall: { burst: 32, refillMs: 2_000 },
  trackedIps: 4096,
  queuedBirthdays: 4,
} as const

interface Bucket {
  tokens: number
  at: number
}

/** Token buckets for punch attempts, per target IP and overall. */
export class PunchRateLimiter {
  readonly #now: () => number
  readonly #perIp = new Map<string, Bucket>()
  readonly #overall: Bucket

  constructor(now: () => number = () => performance.now()) {
    this.#now = now
    this.#overall = { tokens: PUNCH_LIMITS.overall.burst, at: now() }
  }

  /**
   * Takes one attempt's tokens towards `hosts` (`cost` from each IP's bucket, one overall), all or
   * none. Returns undefined when granted, else what ran out: an IP, or `'overall'`.
   */
  take(
    hosts: Iterable<string>,
    cost: number,
    verified: ReadonlySet<string> = new Set(),
  ): string | undefined {
    const now = this.#now()
    refill(this.#overall, now, PUNCH_LIMITS.overall)
    if (this.#overall.tokens < 1) return 'overall'
    const buckets: Bucket[] = []
    for (const host of new Set([...hosts].map(normalizeHost))) {
      // An IP this peer was authenticated from before is a real peer, not a packet target we
      // are tricked into: reconnects to it pay the overall bucket only.
      if (verified.has(host)) continue
      let bucket = this.#perIp.get(host)
      if (bucket === undefined) {
        bucket = { tokens: PUNCH_LIMITS.perIp.burst, at: now }
        if (this.#perIp.size >= PUNCH_LIMITS.trackedIps) {
          const oldest = this.#perIp.keys().next().value
          if (oldest !== undefined) this.#perIp.delete(oldest)
        }
        this.#perIp.set(host, bucket)
      }
      refill(bucket, now, PUNCH_LIMITS.perIp)
      if (bucket.tokens < cost) return host
      buckets.push(bucket)
    }
    this.#overall.tokens -= 1
    for (const bucket of buckets) bucket.tokens -= cost
    return undefined
  }
}

function refill(bucket: Bucket, now: number, limit: { burst: number; refillMs: number }): void {
  bucket.tokens = Math.min(limit.burst, bucket.tokens + (now - bucket.at) / limit.refillMs)
  bucket.at = now
}
