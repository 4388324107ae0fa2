import { classifyNat, type StunBinding } from '@harddrive-party/holepunch/internal'
import { describe, expect, it } from 'vitest'

const binding = (server: string, mapped: string): StunBinding => {
  const [sh, sp] = server.split(':')
  const [mh, mp] = mapped.split(':')
  return {
    server: { host: sh!, port: Number(sp) },
    mapped: { host: mh!, port: Number(mp) },
    elapsedMs: 1,
    requests: 1,
  }
}
const local = { localPort: 5000, localAddresses: ['192.168.1.10', '127.0.0.1'] }

describe('classifyNat', () => {
  it('open: the mapping is our own address and port', () => {
    const r = classifyNat({
      ...local,
      bindings: [
        binding('1.1.1.1:3478', '192.168.1.10:5000'),
        binding('2.2.2.2:3478', '192.168.1.10:5000'),
      ],
    })
    expect(r).toMatchObject({ nat: 'open', portAllocation: 'preserving' })
  })

  it('easy: one mapping for every destination; preserving only when the port is ours', () => {
    const same = [
      binding('1.1.1.1:3478', '203.0.113.1:5000'),
      binding('2.2.2.2:3478', '203.0.113.1:5000'),
    ]
    expect(classifyNat({ ...local, bindings: same })).toMatchObject({
      nat: 'easy',
      portAllocation: 'preserving',
    })
    const moved = [
      binding('1.1.1.1:3478', '203.0.113.1:6123'),
      binding('2.2.2.2:3478', '203.0.113.1:6123'),
    ]
    expect(classifyNat({ ...local, bindings: moved })).toMatchObject({
      nat: 'easy',
      portAllocation: 'unknown',
    })
  })

  it('hard: a different mapping per destination, sequential or random', () => {
    const seq = ['1.1.1.1:3478', '2.2.2.2:3478', '2.2.2.2:3479'].map((s, i) =>
      binding(s, `203.0.113.1:${40001 + i * 2}`),
    )
    expect(classifyNat({ ...local, bindings: seq })).toMatchObject({
      nat: 'hard',
      portAllocation: 'sequential',
      portSteps: [2, 2],
      publicAddress: { host: '203.0.113.1', port: 40005 },
    })
    const rnd = ['1.1.1.1:3478', '2.2.2.2:3478', '2.2.2.2:3479'].map((s, i) =>
      binding(s, `203.0.113.1:${[30217, 56263, 17800][i]}`),
    )
    expect(classifyNat({ ...local, bindings: rnd })).toMatchObject({
      nat: 'hard',
      portAllocation: 'random',
    })
    const down = [
      binding('1.1.1.1:3478', '203.0.113.1:40010'),
      binding('2.2.2.2:3478', '203.0.113.1:40009'),
    ]
    expect(classifyNat({ ...local, bindings: down }).portAllocation).toBe('random')
  })

  it('unknown: no answer, or a single destination', () => {
    expect(classifyNat({ ...local, bindings: [] })).toMatchObject({
      nat: 'unknown',
      portAllocation: 'unknown',
    })
    const one = [
      binding('1.1.1.1:3478', '203.0.113.1:5000'),
      binding('1.1.1.1:3478', '203.0.113.1:5000'),
    ]
    expect(classifyNat({ ...local, bindings: one })).toMatchObject({
      nat: 'unknown',
      portAllocation: 'preserving',
    })
  })
})
