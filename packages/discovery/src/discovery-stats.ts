import { type DiscoveryStats, REJECTION_REASONS, type RejectionReason } from './discovery'

/** Mutable counters behind `discovery.stats`. */
export class StatsCounter {
  readonly #stats: DiscoveryStats = {
    received: 0,
    accepted: 0,
    refreshed: 0,
    duplicates: 0,
    rejected: Object.fromEntries(REJECTION_REASONS.map((r) => [r, 0])) as Record<
      RejectionReason,
      number
    >,
  }

  count(what: 'received' | 'accepted' | 'refreshed' | 'duplicates'): void {
    this.#stats[what]++
  }

  reject(reason: RejectionReason): void {
    this.#stats.rejected[reason]++
  }

  snapshot(): DiscoveryStats {
    return { ...this.#stats, rejected: { ...this.#stats.rejected } }
  }
}

/** Adds several snapshots together (the combined discovery). */
export function sumStats(parts: DiscoveryStats[]): DiscoveryStats {
  const total = new StatsCounter().snapshot()
  for (const s of parts) {
    total.received += s.received
    total.accepted += s.accepted
    total.refreshed += s.refreshed
    total.duplicates += s.duplicates
    for (const r of REJECTION_REASONS) total.rejected[r] += s.rejected[r]
  }
  return total
}
