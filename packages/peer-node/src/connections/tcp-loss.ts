import { execFile } from 'node:child_process'
import type { SocketAddress } from '@harddrive-party/wire-protocol'

/** The kernel's counters of one TCP socket (Linux `TCP_INFO`, as `ss -ti` prints them). */
export interface TcpLossCounters {
  /** Data segments received, and those that arrived out of order (after a hole: a loss). */
  segmentsIn: number
  outOfOrderIn: number
  /** Bytes sent, and bytes sent again (retransmitted). */
  bytesSent: number
  bytesRetransmitted: number
}

/**
 * The counters of our established TCP socket to `remote`, read with iproute2's `ss`: Node has
 * no `getsockopt(TCP_INFO)`. Undefined where that cannot be read (no `ss`: not Linux, or a
 * minimal system), or when no socket matches.
 */
export function readTcpLoss(remote: SocketAddress): Promise<TcpLossCounters | undefined> {
  if (process.platform !== 'linux') return Promise.resolve(undefined)
  const host = remote.host.includes(':') ? `[${remote.host}]` : remote.host
  const args = ['-tinH', 'state', 'established', 'dst', host, 'dport', '=', `:${remote.port}`]
  return new Promise((resolve) => {
    execFile('ss', args, { timeout: 2000, maxBuffer: 64 * 1024 }, (err, stdout) => {
      if (err !== null) return resolve(undefined)
      resolve(parseSs(stdout))
    })
  })
}

/** The first socket's counters in `ss -tinH` output (absent counters are 0: ss omits zeros). */
export function parseSs(text: string): TcpLossCounters | undefined {
  const lines = text.split('\n')
  const info = lines.find((line) => /\bbytes_sent:\d+/.test(line) || /\bsegs_in:\d+/.test(line))
  if (info === undefined) return undefined
  const n = (key: string) => Number(new RegExp(`\\b${key}:(\\d+)`).exec(info)?.[1] ?? 0)
  return {
    segmentsIn: n('data_segs_in'),
    outOfOrderIn: n('rcv_ooopack'),
    bytesSent: n('bytes_sent'),
    bytesRetransmitted: n('bytes_retrans'),
  }
}

/** Out-of-order arrivals that mean random loss (see {@link showsLoss}). */
const OUT_OF_ORDER_SHARE = 0.05
/** Retransmitted bytes that mean random loss, of at least {@link SENT_FLOOR_BYTES} sent. */
const SENT_AGAIN_SHARE = 0.01
const SENT_FLOOR_BYTES = 1_000_000

/**
 * Whether the counters from `before` to `after` show random loss on the path: at least 5 % of
 * the data segments received arrived out of order, or 1 % of the bytes sent (1 MB or more) went
 * again. Each loss puts the segments behind it out of order until the resend fills the hole,
 * so the receiver's share is a multiple of the loss rate: measured over the link lab at 1 ms
 * RTT, 16 % with 2 % random loss, but also 2.4 % on a clean 60 Mbit/s link where TCP only
 * overflows the bottleneck's queue now and then (TCP fills that link: no reason to move).
 */
export function showsLoss(before: TcpLossCounters, after: TcpLossCounters): boolean {
  const segments = after.segmentsIn - before.segmentsIn
  const outOfOrder = after.outOfOrderIn - before.outOfOrderIn
  const sent = after.bytesSent - before.bytesSent
  const again = after.bytesRetransmitted - before.bytesRetransmitted
  if (segments > 0 && outOfOrder / segments >= OUT_OF_ORDER_SHARE) return true
  return sent >= SENT_FLOOR_BYTES && again / sent >= SENT_AGAIN_SHARE
}
