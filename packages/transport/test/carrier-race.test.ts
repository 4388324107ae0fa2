// The dial rule of issue 12: TCP on a LAN (connect under 5 ms), UDX otherwise; a connection
// ready first is held for the preferred carrier. Fake attempts, so timing is exact.
import { describe, expect, it } from 'vitest'
import { type AttemptProgress, LAN_RTT_MS, raceCarriers } from '../src/carrier-race'
import type { PeerConnection } from '../src/connection'
import type { Carrier } from '../src/types'

interface Fake {
  carrier: Carrier
  destroyed: boolean
  destroy(): void
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms))

/** An attempt that reports a TCP connect after `connectMs` and is ready after `readyMs`. */
function plan(
  steps: Partial<Record<Carrier, { connectMs?: number; readyMs: number; fail?: boolean }>>,
) {
  const made: Fake[] = []
  const run = async (carrier: Carrier, signal: AbortSignal, progress: AttemptProgress) => {
    const step = steps[carrier]!
    if (step.connectMs !== undefined) {
      await sleep(step.connectMs)
      progress.connected(step.connectMs)
    }
    await sleep(step.readyMs - (step.connectMs ?? 0))
    signal.throwIfAborted()
    if (step.fail) throw new Error(`${carrier} failed`)
    const fake: Fake = {
      carrier,
      destroyed: false,
      destroy() {
        this.destroyed = true
      },
    }
    made.push(fake)
    return fake as unknown as PeerConnection
  }
  return { run, made }
}

describe('carrier choice', () => {
  it('takes TCP on a LAN even when UDX is ready first', async () => {
    const { run, made } = plan({ udx: { readyMs: 5 }, tcp: { connectMs: 1, readyMs: 15 } })
    const chosen = (await raceCarriers(
      ['udx', 'tcp'],
      run,
      new AbortController().signal,
    )) as unknown as Fake
    expect(chosen.carrier).toBe('tcp')
    expect(made.find((f) => f.carrier === 'udx')?.destroyed).toBe(true)
  })

  it('takes UDX on a long path even when TCP is ready first', async () => {
    const slow = LAN_RTT_MS * 4
    const { run, made } = plan({
      udx: { readyMs: 3 * slow },
      tcp: { connectMs: slow, readyMs: 2 * slow },
    })
    const chosen = (await raceCarriers(
      ['udx', 'tcp'],
      run,
      new AbortController().signal,
    )) as unknown as Fake
    expect(chosen.carrier).toBe('udx')
    expect(made.find((f) => f.carrier === 'tcp')?.destroyed).toBe(true)
  })

  it('uses the held connection when the preferred carrier fails', async () => {
    const { run } = plan({ udx: { readyMs: 60, fail: true }, tcp: { connectMs: 20, readyMs: 30 } })
    const chosen = (await raceCarriers(
      ['udx', 'tcp'],
      run,
      new AbortController().signal,
    )) as unknown as Fake
    expect(chosen.carrier).toBe('tcp')
  })

  it('uses the held connection when the preferred carrier is late', async () => {
    const { run } = plan({ udx: { readyMs: 5 }, tcp: { connectMs: 1, readyMs: 2000 } })
    const started = performance.now()
    const chosen = (await raceCarriers(
      ['udx', 'tcp'],
      run,
      new AbortController().signal,
    )) as unknown as Fake
    expect(chosen.carrier).toBe('udx')
    expect(performance.now() - started).toBeLessThan(1000)
  })

  it('rejects with the abort reason and destroys a held connection', async () => {
    const { run, made } = plan({ udx: { readyMs: 5 }, tcp: { connectMs: 1, readyMs: 2000 } })
    const controller = new AbortController()
    setTimeout(() => controller.abort(new Error('caller gave up')), 12)
    await expect(raceCarriers(['udx', 'tcp'], run, controller.signal)).rejects.toThrow(
      'caller gave up',
    )
    expect(made.every((f) => f.destroyed)).toBe(true)
  })
})
