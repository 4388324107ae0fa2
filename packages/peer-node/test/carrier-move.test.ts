import type { Connection, ConnectionStats } from '@harddrive-party/transport'
import { describe, expect, it } from 'vitest'
import { CarrierMover } from '../src/connections/carrier-move'
import type { ConnectionRegistry } from '../src/connections/connection-registry'
import type { TcpLossCounters } from '../src/connections/tcp-loss'
import { defaultLogger } from '../src/logger'
import { waitUntil } from './helpers'

// The mover's decision, sampled fast (every 5 ms) over a stand-in connection whose counters
// grow at a chosen rate: which seconds count as slow, when it probes and when it must not.
// The move itself (registry and real carriers) is tested in connection-move.test.ts and
// carrier-move-lab.test.ts.

interface Setup {
  carrier?: 'tcp' | 'udx'
  initiator?: boolean
  /** The protocol version of the peer's hello (default 1.1). */
  version?: [number, number]
  /** Bytes per second the stand-in receives. */
  rate: number
  rttMs?: number
  openStreams?: number
  /** What `bulk` answers: does our side hold nothing back? */
  bulk?: boolean
  /** What the kernel's counters say (undefined: cannot be read). */
  loss?: 'lossy' | 'clean' | undefined
}

function harness(s: Setup) {
  const startedAt = Date.now()
  const connection = {
    carrier: s.carrier ?? 'tcp',
    initiator: s.initiator ?? true,
    remoteVersion: s.version ?? [1, 1],
    remotePublicKey: new Uint8Array(32).fill(7),
    remoteAddress: { host: '10.99.77.2', port: 4000 },
    topic: { name: 't' },
    closeReason: undefined,
    // Counters that grow with wall time at `rate`: each sample sees the rate whatever its period.
    stats: (): ConnectionStats => ({
      carrier: s.carrier ?? 'tcp',
      rttMs: s.rttMs ?? 50,
      bytesSent: 0,
      bytesReceived: Math.round(((Date.now() - startedAt) * s.rate) / 1000),
      openStreams: s.openStreams ?? 1,
      largestWindowBytes: 256 * 1024,
    }),
  } as unknown as Connection
  const dials: unknown[] = []
  let bulkAsked = 0
  let lossReads = 0
  const added: Connection[] = []
  const registry = {
    all: () => [connection],
    isRelayed: () => false,
    // Live for a minute: past the move rule's 10 s.
    liveSince: () => startedAt - 60_000,
    add: (c: Connection) => {
      added.push(c)
      return true
    },
  } as unknown as ConnectionRegistry
  const counters = (n: number): TcpLossCounters => ({
    segmentsIn: n * 1000,
    outOfOrderIn: s.loss === 'lossy' ? n * 160 : n * 20,
    bytesSent: 0,
    bytesRetransmitted: 0,
  })
  const udx = { carrier: 'udx' } as unknown as Connection
  const mover = new CarrierMover({
    registry,
    transport: {
      dial: async (...args: unknown[]) => {
        dials.push(args)
        return udx
      },
    } as never,
    log: defaultLogger('test-carrier-move'),
    bulk: () => {
      bulkAsked++
      return s.bulk ?? true
    },
    sampleMs: 5,
    readLoss: async () => (s.loss === undefined ? undefined : counters(++lossReads)),
  })
  mover.start()
  return {
    mover,
    dials,
    added,
    udx,
    get bulkAsked() {
      return bulkAsked
    },
    get lossReads() {
      return lossReads
    },
  }
}

/** Lets the sampler run `n` more times (each one sample of the stand-in). */
async function samples(n: number): Promise<void> {
  for (let i = 0; i < n; i++) await new Promise((resolve) => setTimeout(resolve, 6))
}

describe('when the carrier mover probes UDX', () => {
  it('a slow bulk transfer with a queue and loss: dials UDX only, to the address it dialled, and offers it to the registry', async () => {
    const h = harness({ rate: 3_000_000, loss: 'lossy' })
    try {
      await waitUntil('a probe', () => h.added.length === 1)
      expect(h.dials).toHaveLength(1)
      const [address, key, options] = h.dials[0] as [
        unknown,
        Uint8Array,
        { carriers: string[]; topic: unknown },
      ]
      expect(address).toEqual({ host: '10.99.77.2', port: 4000 })
      expect(key).toEqual(new Uint8Array(32).fill(7))
      expect(options.carriers).toEqual(['udx'])
      expect(h.added[0]).toBe(h.udx)
      expect(h.mover.moves).toBe(1)
      expect(h.lossReads).toBe(2) // at the first and at the fifth slow second
      // At most one probe per connection per minute.
      await samples(30)
      expect(h.dials).toHaveLength(1)
    } finally {
      h.mover.stop()
    }
  })

  it('where the kernel cannot be asked (no `ss`), the slow seconds alone decide', async () => {
    const h = harness({ rate: 3_000_000, loss: undefined })
    try {
      await waitUntil('a probe', () => h.dials.length === 1)
    } finally {
      h.mover.stop()
    }
  })

  const stays: Array<[string, Setup]> = [
    ['slow seconds on a clean socket (a slow link TCP fills)', { rate: 3_000_000, loss: 'clean' }],
    ['our side holds it back (a rate limit, a paused download)', { rate: 3_000_000, bulk: false }],
    ['fast: 100 Mbit/s or more', { rate: 20_000_000, loss: 'lossy' }],
    ['no queue between the ends (a reader or a disk is the brake)', { rate: 3_000_000, rttMs: 2 }],
    ['no bulk bytes (an idle connection)', { rate: 10_000, loss: 'lossy' }],
    ['no stream open', { rate: 3_000_000, openStreams: 0, loss: 'lossy' }],
    ['already UDX', { carrier: 'udx', rate: 3_000_000, loss: 'lossy' }],
    ['the peer dialled it (we know no listening address)', { initiator: false, rate: 3_000_000 }],
    [
      'a 1.0 peer (it has no move rule: it would close the UDX connection)',
      { version: [1, 0], rate: 3_000_000, loss: 'lossy' },
    ],
  ]
  for (const [why, setup] of stays) {
    it(`no probe: ${why}`, async () => {
      const h = harness(setup)
      try {
        await samples(40)
        expect(h.dials).toHaveLength(0)
        expect(h.added).toHaveLength(0)
        if (setup.bulk === false) expect(h.bulkAsked).toBeGreaterThan(5) // it was asked, and said no
        if (setup.loss === 'clean') expect(h.lossReads).toBeGreaterThanOrEqual(2) // it looked
      } finally {
        h.mover.stop()
      }
    })
  }
})
