import { createSocket } from 'node:dgram'
import { hasCoturn, type StunServer, startStunServer } from '@harddrive-party/test-lab'
import { afterEach, describe, expect, it } from 'vitest'
import { defaultLogger } from '../src/logger'
import { TurnRelays } from '../src/turn-relays'
import { Cleanup, waitUntil } from './helpers'

// A real coturn on 127.0.0.1 (nothing leaves loopback). An allocation that cannot be made (the
// server is down; the same path as one lost to a failed refresh) is tried again by the retry
// timer until the server is back, without any NAT change to prompt it.

const skip = hasCoturn() ? '' : 'coturn (turnserver) is not installed'
if (skip) console.warn(`TURN allocation retry: skipped: ${skip}`)
const USER = { username: 'hdp', password: 's3cret', realm: 'lab.example' }
const cleanup = new Cleanup()
const stops: Array<() => Promise<unknown>> = []
afterEach(async () => {
  for (const stop of stops.splice(0).reverse()) await stop().catch(() => {})
  await cleanup.run()
})

describe.skipIf(skip !== '')('TurnRelays keeps an allocation', () => {
  it('no server answers at first: tries again on the retry timer and allocates once the server is up', async () => {
    const dir = await cleanup.dir()
    // coturn started once to learn a free port pair, then stopped: the server is "down".
    let coturn: StunServer = await startStunServer({ dir, addresses: ['127.0.0.1'], turn: USER })
    stops.push(() => coturn.stop())
    const port = coturn.endpoints[0]!.port
    await coturn.stop()
    // Where relayed datagrams would go (our transport's socket in a node).
    const target = createSocket('udp4')
    await new Promise<void>((resolve) => target.bind(0, '127.0.0.1', resolve))
    stops.push(() => new Promise<void>((resolve) => target.close(() => resolve())))
    const turn = new TurnRelays({
      servers: [`turn://hdp:s3cret@127.0.0.1:${port}`],
      retryMs: [300, 600],
      // A dead server fails an allocation in ~0.5 s.
      client: { rtoMs: 100, maxRequests: 3, lastWaitFactor: 2 },
      log: defaultLogger('test'),
    })
    stops.push(() => turn.stop())
    const seen: Array<string | undefined> = []
    let wanted = false
    await turn.keep({
      target: { host: '127.0.0.1', port: target.address().port },
      wanted: () => wanted,
      onRelayed: (r) => seen.push(r && `${r.host}:${r.port}`),
    })
    // Not wanted (our NAT is not hard): nothing tried, no timer.
    await new Promise((resolve) => setTimeout(resolve, 700))
    expect(turn.retries).toBe(0)
    wanted = true
    await turn.ensure() // a NAT change says hard: the server is down, so it fails
    expect(turn.relayed).toBeUndefined()
    expect(seen).toEqual([])
    // Without any further prompt, the retry timer keeps trying (300 ms, then every 600 ms).
    await waitUntil('three failed tries', () => turn.retries >= 3, 15_000)
    coturn = await startStunServer({ dir, addresses: ['127.0.0.1'], port, turn: USER })
    const backAt = Date.now()
    const failed = turn.retries
    await waitUntil('allocated on the timer', () => turn.relayed !== undefined, 15_000)
    console.log(
      `TURN retry: allocated ${Date.now() - backAt} ms after the server came up (after ${failed} failed tries)`,
    )
    expect(seen).toEqual([expect.stringMatching(/^127\.0\.0\.1:\d+$/)])
    expect(turn.retries).toBe(0)
    expect(turn.info?.lastError).toBeDefined() // the failures are shown in the doctor
    // Stopped: no timer left behind, nothing allocated again.
    await turn.stop()
    expect(turn.relayed).toBeUndefined()
  }, 60_000)
})
