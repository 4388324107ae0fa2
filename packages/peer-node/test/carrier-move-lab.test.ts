import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { createMoveLab, LOSSY, type MoveLab, moveLabSkipReason, SLOW_CLEAN } from './move-lab'

// The carrier move end to end: two peer nodes in network namespaces joined by test-lab's link
// emulator at 1 ms RTT (move-lab.ts). The race takes TCP (its connect is under 5 ms); when 2 %
// random loss starts, TCP is the brake and the downloader (the dialler) moves the connection to
// UDX mid-download; on a clean link slower than the move's 100 Mbit/s it stays on TCP (its
// socket shows no loss). The same download with the move off and on, timed, is
// `pnpm --filter @harddrive-party/peer-node bench:carrier-move`.

const skip = moveLabSkipReason()
if (skip) console.warn(`carrier move lab: ${skip}`)

describe.skipIf(skip !== '')('moving a download from TCP to UDX on a lossy LAN (link lab)', () => {
  let lab: MoveLab

  beforeAll(async () => {
    lab = await createMoveLab()
  }, 60_000)

  afterAll(async () => {
    await lab?.destroy()
  })

  it('2 % loss: the download moves to UDX and completes byte-exact', async () => {
    // Started once the connection is 10 s old (the move rule's age): the move comes 5 slow
    // seconds into the download, whatever TCP's rate (64 MiB under 100 Mbit/s take longer).
    const r = await lab.download(LOSSY, true, 10_000)
    console.log(
      `lossy link, move on: ${r.seconds.toFixed(1)} s, carriers ${r.carriers.join(' → ')}`,
    )
    expect(r.intact).toBe(true)
    expect(r.carriers).toEqual(['tcp', 'udx'])
    expect(r.now).toBe('udx')
    expect(r.log).toMatch(/trying UDX at 10\.99\.77\.2:\d+/)
    expect(r.log).toContain('moved from TCP to UDX')
    // The sharer (the acceptor) took the same connection, without a word about it.
    expect(r.sharerLog).toContain('moved from TCP to UDX')
  }, 300_000)

  it('a clean link slower than 100 Mbit/s (TCP fills it): the download stays on TCP', async () => {
    // Started once the connection is 10 s old, so the whole transfer is judged.
    const r = await lab.download(SLOW_CLEAN, true, 10_000)
    console.log(`slow clean link: ${r.seconds.toFixed(1)} s, carriers ${r.carriers.join(' → ')}`)
    expect(r.intact).toBe(true)
    expect(r.carriers).toEqual(['tcp'])
    expect(r.now).toBe('tcp')
    expect(r.log).not.toContain('trying UDX')
    // The sampler judged the transfer (a trace line per second), whatever it concluded.
    expect(r.log).toMatch(/tcp \d+ B\/s, ping RTT \d+ ms/)
    const noLoss = r.log.includes('but no loss')
    console.log(
      `slow clean link: ${noLoss ? 'slow seconds seen, no loss: stayed' : 'no run of 5 slow seconds'}`,
    )
  }, 300_000)
})
