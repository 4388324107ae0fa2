/**
 * @packageDocumentation
 * STUN (RFC 8489) from the caller's own UDP socket, NAT classification (open / easy / hard, port
 * allocation) and UDP hole punching: direct, simultaneous, birthday (easy↔hard) and port
 * prediction, with authenticated punch packets, AbortSignal and typed progress events.
 *
 * @example
 * ```ts
 * import { HolePuncher } from '@harddrive-party/holepunch'
 * const puncher = new HolePuncher({ socket, createSocket, stunServers: ['stun.example.org:3478'] })
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
export type {
  HolePuncherOptions,
  PunchOptions,
  PunchRequest,
  PunchResult,
} from './hole-puncher'
export { HolePuncher } from './hole-puncher'
export type { DetectNatOptions } from './nat-detect'
export { detectNat } from './nat-detect'
export type { NatReport } from './nat-type'
export { classifyNat } from './nat-type'
export type {
  HolepunchProgressEvent,
  OnProgress,
  ProgressEvent,
  PunchRole,
  PunchStats,
  PunchTechnique,
} from './progress'
export { PUNCH_LIMITS } from './punch-limits'
export type { PunchKind, PunchPacket } from './punch-packet'
export {
  decodePunchPacket,
  derivePunchKey,
  encodePunchPacket,
  PUNCH_PACKET_BYTES,
} from './punch-packet'
export type { LocalNat, PlanOptions, PunchPlan, RemotePeer } from './punch-plan'
export { planPunch, predictPorts } from './punch-plan'
export type { StunBinding, StunBindingOptions, StunRetransmitOptions } from './stun-client'
export { STUN_DEFAULTS, stunBinding } from './stun-client'
export type { StunErrorResponse, StunResponse, StunSuccess } from './stun-message'
export { decodeBindingResponse, encodeBindingRequest } from './stun-message'
export type { StunServer } from './stun-servers'
export { DEFAULT_STUN_SERVERS, parseStunServer } from './stun-servers'
