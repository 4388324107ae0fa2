import { describe, expect, it } from 'vitest'
import { Backoff } from '../src/backoff'

describe('Backoff', () => {
  it('doubles up to the ceiling, keeps half fixed and half random, and resets', () => {
    const low = new Backoff({ initialDelayMs: 1000, maxDelayMs: 8000, random: () => 0 })
    expect([1, 2, 3, 4, 5].map(() => low.next())).toEqual([500, 1000, 2000, 4000, 4000])
    const high = new Backoff({ initialDelayMs: 1000, maxDelayMs: 8000, random: () => 0.999999 })
    expect([1, 2, 3, 4, 5].map(() => high.next())).toEqual([1000, 2000, 4000, 8000, 8000])
    expect(high.attempts).toBe(5)
    high.reset()
    expect(high.next()).toBe(1000)
  })

  it('never waits zero, whatever the randomness', () => {
    const b = new Backoff({ initialDelayMs: 100, maxDelayMs: 100 })
    for (let i = 0; i < 100; i++) expect(b.next()).toBeGreaterThanOrEqual(50)
  })

  it('refuses nonsense settings', () => {
    expect(() => new Backoff({ initialDelayMs: 0 })).toThrow(TypeError)
    expect(() => new Backoff({ initialDelayMs: 10, maxDelayMs: 5 })).toThrow(TypeError)
  })
})
