import type { DatagramSocket, SocketAddress } from './datagram-socket'
import type { OnProgress, PunchTechnique } from './progress'
import type { LocalNat, RemotePeer } from './punch-plan'

// What one `punch()` call takes and gives back (the puncher itself is in hole-puncher.ts).

export interface PunchRequest {
  /** Shared by the two peers only (peer-node derives it from the topic and both keys); ≥ 16 bytes. */
  secret: Uint8Array
  /** Our side; default: the last `detectNat` report. */
  local?: LocalNat
  remote: RemotePeer
}

export interface PunchOptions {
  signal?: AbortSignal
  onProgress?: OnProgress
  /** Give up after this long. Default 10 000, or 30 000 for the birthday method. */
  timeoutMs?: number
  /** Most datagrams an attempt may send, replies aside. Default 400, or `maxProbes + 600` for the birthday method. */
  maxPackets?: number
  /** Gap between probe rounds during the first 20 rounds. Default 50. */
  probeIntervalMs?: number
  /** Gap between later probe rounds. Default 250. */
  slowIntervalMs?: number
  /** Birthday hard side: extra sockets opened through `createSocket`. Default 256. */
  birthdaySockets?: number
  /** Birthday hard side: how often the opening datagrams are re-sent (NATs drop unanswered mappings after ~30 s). Default 10 000. */
  reopenIntervalMs?: number
  /** Birthday hard side: IP TTL of the opening datagrams, low enough to die before the peer's NAT. Default 5; 0 = normal TTL. */
  openingTtl?: number
  /** Birthday easy side: most random-port probes. Default 3000. */
  maxProbes?: number
  /** Birthday easy side: gap between random-port probes. Default 5. */
  sprayIntervalMs?: number
  /**
   * IPs the peer was authenticated from before (a completed connection with its key): exempt
   * from the per-IP punch limit, which is there for addresses that are not a real peer. The
   * overall limit still applies.
   */
  verifiedHosts?: Iterable<string>
  /** After success, keep acknowledging the peer's probes this long so it completes too. Default 3000. */
  lingerMs?: number
}

export interface PunchResult {
  /** The socket that completed the two-way exchange: dial the peer from it. */
  socket: DatagramSocket
  /** True when `socket` came from `createSocket`: the caller now owns it and closes it. */
  created: boolean
  /** The peer's address as seen from `socket`. */
  remote: SocketAddress
  technique: PunchTechnique
  packetsSent: number
  elapsedMs: number
}
