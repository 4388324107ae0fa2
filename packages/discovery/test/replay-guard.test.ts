import { describe, expect, it } from 'vitest'
import { ReplayGuard } from '../src/replay-guard'

describe('ReplayGuard', () => {
  it('remembers a nonce until it expires', () => {
    const g = new ReplayGuard()
    g.add('n1', 1000, 0)
    expect(g.has('n1', 999)).toBe(true)
    expect(g.has('n1', 1000)).toBe(false)
    expect(g.size).toBe(0)
  })

  it('is bounded: the oldest entries go first', () => {
    const g = new ReplayGuard(3)
    for (const n of ['a', 'b', 'c', 'd']) g.add(n, 10_000, 0)
    expect(g.size).toBe(3)
    expect(g.has('a', 1)).toBe(false)
    expect(g.has('d', 1)).toBe(true)
  })
})
