import { describe, expect, it } from 'vitest'
import { Admission } from '../src/admission'
import { newNonce } from '../src/control-datagram'

describe('handshake admission', () => {
  it('rate-limits each source on its own token bucket', () => {
    const admission = new Admission({ handshakeBurst: 3, handshakesPerSecond: 2 })
    const t0 = 1000
    expect([1, 2, 3, 4].map(() => admission.takeToken('10.0.0.1', t0))).toEqual([
      true,
      true,
      true,
      false,
    ])
    expect(admission.takeToken('10.0.0.2', t0)).toBe(true) // another source is unaffected
    expect(admission.takeToken('10.0.0.1', t0 + 400)).toBe(false) // 0.8 tokens refilled
    expect(admission.takeToken('10.0.0.1', t0 + 600)).toBe(true) // 1.2
  })

  it('evicts from the busiest source when full, never from a quiet one', () => {
    const admission = new Admission({ maxHalfOpen: 10, maxHalfOpenPerHost: 8 })
    const evicted: string[] = []
    const honest = admission.track('honest', () => evicted.push('honest'))
    for (let i = 0; i < 9; i++) admission.track('flood-a', () => evicted.push(`a${i}`))
    for (let i = 0; i < 20; i++) admission.track(`flood-${i % 3}`, () => evicted.push(`f${i}`))
    expect(evicted).not.toContain('honest')
    expect(admission.halfOpen).toBeLessThanOrEqual(10)
    expect(evicted[0]).toBe('a0') // the per-host cap of 8 evicts flood-a's oldest first
    honest.release()
    honest.release() // idempotent
    expect(admission.halfOpen).toBeLessThanOrEqual(9)
  })

  it('asks for cookies under load and accepts only the ones it made', () => {
    const admission = new Admission({ maxHalfOpen: 4 })
    expect(admission.wantsCookie).toBe(false)
    admission.track('a', () => {})
    admission.track('b', () => {})
    expect(admission.wantsCookie).toBe(true)
    const nonce = newNonce()
    const cookie = admission.cookie('10.0.0.1', 4000, 5, nonce)
    expect(admission.checkCookie(cookie, '10.0.0.1', 4000, 5, nonce)).toBe(true)
    expect(admission.checkCookie(cookie, '10.0.0.1', 4001, 5, nonce)).toBe(false)
    expect(admission.checkCookie(cookie, '10.0.0.2', 4000, 5, nonce)).toBe(false)
    expect(admission.checkCookie(cookie, '10.0.0.1', 4000, 6, nonce)).toBe(false)
    expect(admission.checkCookie(new Uint8Array(16), '10.0.0.1', 4000, 5, nonce)).toBe(false)
    expect(new Admission().checkCookie(cookie, '10.0.0.1', 4000, 5, nonce)).toBe(false)
  })

  it('answers refusals at most once per second per source', () => {
    const admission = new Admission()
    expect(admission.mayAnswerRefusal('x', 0)).toBe(true)
    expect(admission.mayAnswerRefusal('x', 500)).toBe(false)
    expect(admission.mayAnswerRefusal('y', 500)).toBe(true)
    expect(admission.mayAnswerRefusal('x', 1001)).toBe(true)
  })
})
