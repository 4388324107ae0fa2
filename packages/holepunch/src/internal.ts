/**
 * `@harddrive-party/holepunch/internal`: the building blocks under `createHolePuncher`:
 * STUN and punch packet codecs, NAT classification, the punch planner and rate limits. For
 * peer-node (which plans connections with `planPunch`), tests and benchmarks; not covered by
 * semver, and an embedder needs none of it.
 */
export { detectNat } from './nat-detect'
export { classifyNat } from './nat-type'
export { PUNCH_LIMITS } from './punch-limits'
export type { PunchKind, PunchPacket } from './punch-packet'
export {
  decodePunchPacket,
  derivePunchKey,
  encodePunchPacket,
  PUNCH_PACKET_BYTES,
} from './punch-packet'
export type { PlanOptions, PunchPlan } from './punch-plan'
export { planPunch, predictPorts } from './punch-plan'
export type { StunBinding, StunBindingOptions, StunRetransmitOptions } from './stun-client'
export { STUN_DEFAULTS, stunBinding } from './stun-client'
export type { StunErrorResponse, StunResponse, StunSuccess } from './stun-message'
export { decodeBindingResponse, encodeBindingRequest } from './stun-message'
export { parseStunServer } from './stun-servers'
export type { TurnClientOptions } from './turn-client'
export { TurnClient } from './turn-client'
export {
  decodeChannelData,
  decodeTurnMessage,
  encodeChannelData,
  encodeTurnMessage,
  encodeXorAddress,
  longTermKey,
  TURN_METHOD,
} from './turn-message'
