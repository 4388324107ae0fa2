/**
 * @packageDocumentation
 * STUN (RFC 8489) from the caller's own UDP socket, NAT classification (open / easy / hard, port
 * allocation) and UDP hole punching: direct, simultaneous, birthday (easy↔hard) and port
 * prediction, with authenticated punch packets, AbortSignal and typed progress events.
 *
 * @example
 * ```ts
 * import { createHolePuncher } from '@harddrive-party/holepunch'
 * const puncher = createHolePuncher({ socket, createSocket, stunServers: ['stun.example.org:3478'] })
 * await puncher.start()
 * const nat = await puncher.detectNat() // { nat: 'easy', publicAddress: { host, port }, ... }
 * const { socket: winner, remote } = await puncher.punch(
 *   { secret, remote: { nat: 'hard', addresses: [{ host: '203.0.113.9', port: 0, kind: 'public' }] } },
 *   { signal: AbortSignal.timeout(30_000), onProgress: (e) => console.error(e.type, e.detail) },
 * )
 * ```
 */
export type { CreateSocket, DatagramSocket, SocketAddress } from './datagram-socket'
export type { HolepunchErrorCode } from './errors'
export { HolepunchError, isHolepunchError } from './errors'
export type { HolePuncher, HolePuncherOptions } from './hole-puncher'
export { createHolePuncher } from './hole-puncher'
export type { DetectNatOptions } from './nat-detect'
export type { NatReport } from './nat-type'
export type {
  HolepunchProgressEvent,
  OnProgress,
  ProgressEvent,
  PunchRole,
  PunchStats,
  PunchTechnique,
} from './progress'
export type { PunchOptions, PunchRequest, PunchResult } from './punch-options'
export type { LocalNat, RemotePeer } from './punch-plan'
export type { StunServer } from './stun-servers'
export { DEFAULT_STUN_SERVERS } from './stun-servers'
export type { TurnRelay, TurnRelayOptions, TurnRelayStats } from './turn-relay'
export { createTurnRelay } from './turn-relay'
export type { TurnServer } from './turn-server'
export { parseTurnServer } from './turn-server'
