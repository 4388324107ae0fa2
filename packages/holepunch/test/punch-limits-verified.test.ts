import { describe, expect, it } from 'vitest'
import { PUNCH_LIMITS, PunchRateLimiter } from '../src/punch-limits'

describe('per-IP punch limit and verified peers', () => {
  it('an IP the peer was authenticated from is not held back; others still are', () => {
    let now = 0
    const limiter = new PunchRateLimiter(() => now)
    const verified = new Set(['198.51.100.12'])
    // A birthday spray costs the whole per-IP burst: a second one to an unverified IP is refused.
    expect(limiter.take(['198.51.100.13'], PUNCH_LIMITS.perIp.burst)).toBeUndefined()
    expect(limiter.take(['198.51.100.13'], PUNCH_LIMITS.perIp.burst)).toBe('198.51.100.13')
    // Reconnect sprays to a verified IP go through, time after time (the overall bucket pays).
    for (let i = 0; i < 5; i++) {
      now += PUNCH_LIMITS.overall.refillMs
      expect(limiter.take(['198.51.100.12'], PUNCH_LIMITS.perIp.burst, verified)).toBeUndefined()
    }
    // The overall limit still applies to verified IPs.
    let refused: string | undefined
    for (let i = 0; i < PUNCH_LIMITS.overall.burst + 1 && refused === undefined; i++) {
      refused = limiter.take(['198.51.100.12'], 1, verified)
    }
    expect(refused).toBe('overall')
  })
})
