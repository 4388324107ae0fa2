import { once } from 'node:events'
import { createConnection, createServer, type Socket } from 'node:net'
import { describe, expect, it } from 'vitest'
import { parseSs, readTcpLoss, showsLoss } from '../src/connections/tcp-loss'

// The carrier move's loss evidence: the kernel's per-socket counters as `ss -ti` prints them.

const SAMPLE = `0      0      10.99.77.1:39179 10.99.77.2:40674
\t cubic wscale:7,7 rto:204 rtt:1.2/0.4 mss:1448 cwnd:10 bytes_sent:420 bytes_retrans:12 bytes_acked:408 bytes_received:73400320 segs_out:30001 segs_in:50710 data_segs_out:3 data_segs_in:50700 rcv_ooopack:8112 rcv_space:65483
`

describe('TCP loss counters', () => {
  it('reads the counters of the first socket; counters ss leaves out (zeros) are 0', () => {
    expect(parseSs(SAMPLE)).toEqual({
      segmentsIn: 50_700,
      outOfOrderIn: 8112,
      bytesSent: 420,
      bytesRetransmitted: 12,
    })
    const clean = SAMPLE.replace(/ rcv_ooopack:\d+/, '').replace(/ bytes_retrans:\d+/, '')
    expect(parseSs(clean)).toMatchObject({ outOfOrderIn: 0, bytesRetransmitted: 0 })
    expect(parseSs('')).toBeUndefined()
    expect(parseSs('garbage\nmore garbage')).toBeUndefined()
  })

  it('loss is 5 % of segments in out of order, or 1 % of 1 MB or more sent again', () => {
    const zero = { segmentsIn: 0, outOfOrderIn: 0, bytesSent: 0, bytesRetransmitted: 0 }
    const at = (c: Partial<typeof zero>) => ({ ...zero, ...c })
    // 2 % random loss at 1 ms RTT put 16 % of segments out of order; a clean 60 Mbit/s link 2.4 %.
    expect(showsLoss(zero, at({ segmentsIn: 10_000, outOfOrderIn: 1600 }))).toBe(true)
    expect(showsLoss(zero, at({ segmentsIn: 10_000, outOfOrderIn: 240 }))).toBe(false)
    expect(showsLoss(zero, at({ bytesSent: 50_000_000, bytesRetransmitted: 1_000_000 }))).toBe(true)
    expect(showsLoss(zero, at({ bytesSent: 50_000_000, bytesRetransmitted: 100_000 }))).toBe(false)
    // A few small sends (requests, pongs) resent: too little to judge.
    expect(showsLoss(zero, at({ bytesSent: 4000, bytesRetransmitted: 400 }))).toBe(false)
    // Deltas, not totals: loss before the window does not count.
    const before = at({ segmentsIn: 10_000, outOfOrderIn: 5000 })
    expect(showsLoss(before, at({ segmentsIn: 20_000, outOfOrderIn: 5010 }))).toBe(false)
  })

  it.runIf(process.platform === 'linux')(
    'reads a real socket: the bytes a client sent over loopback',
    async () => {
      const accepted: Socket[] = []
      let arrived = 0
      let allArrived = () => {}
      const arrivedAll = new Promise<void>((resolve) => {
        allArrived = resolve
      })
      const server = createServer((s) => {
        accepted.push(s)
        s.on('data', (chunk: Buffer) => {
          arrived += chunk.length
          if (arrived >= 300_000) allArrived()
        })
      }).listen(0, '127.0.0.1')
      await once(server, 'listening')
      const port = (server.address() as { port: number }).port
      const client = createConnection({ host: '127.0.0.1', port })
      await once(client, 'connect')
      try {
        client.write(Buffer.alloc(300_000))
        // Read by the other end, so the kernel has sent them all (a write's callback means only
        // that the kernel took them: on a busy machine part may still wait in the send queue).
        await arrivedAll
        const counters = await readTcpLoss({ host: '127.0.0.1', port })
        if (counters === undefined) {
          console.warn('tcp loss: `ss` is not available here; the move then goes without it')
          return
        }
        expect(counters.bytesSent).toBeGreaterThanOrEqual(300_000)
        expect(await readTcpLoss({ host: '127.0.0.1', port: 1 })).toBeUndefined()
      } finally {
        client.destroy()
        for (const s of accepted) s.destroy()
        server.close()
      }
    },
  )
})
