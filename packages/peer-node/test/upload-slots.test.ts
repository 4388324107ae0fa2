import { describe, expect, it } from 'vitest'
import { TokenBucket } from '../src/serving/rate-limit'
import { UploadSlots } from '../src/serving/upload-slots'

describe('UploadSlots', () => {
  it('hands freed slots round-robin between peers, not in arrival order', async () => {
    const slots = new UploadSlots({ slots: 1, maxWaitingPerPeer: 100, positionIntervalMs: 10 })
    const order: string[] = []
    const first = await slots.acquire('a')
    const waits: Promise<void>[] = []
    const take = (peer: string, n: number) => {
      for (let i = 0; i < n; i++) {
        waits.push(
          slots.acquire(peer).then((release) => {
            order.push(peer)
            // Hold the slot a moment so the next grant happens after the others queued.
            setTimeout(release, 1)
          }),
        )
      }
    }
    take('a', 5) // a queues five first...
    take('b', 2) // ...b two, c one, later
    take('c', 1)
    first()
    await Promise.all(waits)
    expect(order).toEqual(['a', 'b', 'c', 'a', 'b', 'a', 'a', 'a'])
    slots.close()
  })

  it('tells each waiter its position as the queue moves, and refuses a full queue with BUSY', async () => {
    const slots = new UploadSlots({ slots: 1, maxWaitingPerPeer: 3, positionIntervalMs: 10 })
    const release = await slots.acquire('a')
    const positions: Record<string, number[]> = { a: [], b: [] }
    const releases: Promise<() => void>[] = []
    for (let i = 0; i < 3; i++) {
      releases.push(slots.acquire('a', { onPosition: (p) => positions.a?.push(p) }))
    }
    const b = slots.acquire('b', { onPosition: (p) => positions.b?.push(p) })
    // b is second: one of a's reads goes first (a was first in the rotation), then b.
    expect(positions.b).toEqual([2])
    expect(positions.a).toEqual([1, 2, 3])
    await expect(slots.acquire('a')).rejects.toMatchObject({ code: 'BUSY' })
    release()
    const next = (await releases[0]) as () => void
    await new Promise((resolve) => setTimeout(resolve, 30))
    expect(positions.b).toEqual([2, 1])
    next()
    ;(await b)()
    for (const r of releases.slice(1)) (await r)()
    expect(slots.stats()).toEqual({ active: 0, waiting: 0 })
    slots.close()
  })

  it('caps the slots one peer holds, and an aborted wait leaves the queue', async () => {
    const slots = new UploadSlots({ slots: 3 })
    const a1 = await slots.acquire('a')
    await slots.acquire('a')
    const controller = new AbortController()
    const third = slots.acquire('a', { signal: controller.signal })
    expect(slots.stats()).toEqual({ active: 2, waiting: 1 }) // a may hold slots - 1 = 2
    const b = await slots.acquire('b') // the free slot is b's at once
    controller.abort()
    await expect(third).rejects.toMatchObject({ name: 'AbortError' })
    expect(slots.stats()).toEqual({ active: 3, waiting: 0 })
    a1()
    b()
    slots.close()
  })

  it('resize: more slots start waiting reads at once; fewer let reads in progress finish first', async () => {
    const slots = new UploadSlots({ slots: 1 })
    const a = await slots.acquire('a')
    const granted: string[] = []
    const b = slots.acquire('b').then((r) => {
      granted.push('b')
      return r
    })
    const c = slots.acquire('c').then((r) => {
      granted.push('c')
      return r
    })
    expect(slots.stats()).toEqual({ active: 1, waiting: 2 })
    slots.resize(3)
    const [rb, rc] = await Promise.all([b, c])
    expect(granted.sort()).toEqual(['b', 'c'])
    expect(slots.stats()).toEqual({ active: 3, waiting: 0 })
    slots.resize(1)
    const d = slots.acquire('d')
    a()
    rb()
    // Two of three released, one still active: with one slot, d still waits.
    await new Promise((r) => setTimeout(r, 20))
    expect(slots.stats()).toEqual({ active: 1, waiting: 1 })
    rc()
    ;(await d)()
    expect(slots.stats()).toEqual({ active: 0, waiting: 0 })
    expect(() => slots.resize(0)).toThrow(/slots must be a positive integer/)
    slots.close()
  })
})

describe('TokenBucket.setRate', () => {
  it('a changed rate holds from the next take; 0 lifts the limit', async () => {
    const bucket = new TokenBucket(10_000)
    await bucket.take(64 * 1024) // the burst: at once
    bucket.setRate(1_000_000)
    let started = performance.now()
    await bucket.take(200_000) // at the old rate ~20 s; at the new one ~0.1 s
    const fastMs = performance.now() - started
    expect(fastMs).toBeGreaterThan(50)
    expect(fastMs).toBeLessThan(5000) // far from the old rate's 20 s, with room for a loaded machine
    bucket.setRate(0)
    expect(bucket.unlimited).toBe(true)
    started = performance.now()
    await bucket.take(10_000_000)
    expect(performance.now() - started).toBeLessThan(50)
  })
})
