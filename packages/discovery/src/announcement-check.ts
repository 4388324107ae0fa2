import {
  type Announcement,
  isWireError,
  limits,
  openAnnouncement,
  type TopicKeys,
  type WireErrorCode,
} from '@harddrive-party/wire-protocol'
import { equalBytes } from '@harddrive-party/wire-protocol/internal'
import type { RejectionReason } from './discovery'

export interface FreshnessWindow {
  /** Oldest accepted timestamp is `now - maxAgeMs`. */
  maxAgeMs: number
  /** Newest accepted timestamp is `now + maxClockSkewMs`. */
  maxClockSkewMs: number
}

export type CheckResult =
  | { ok: true; announcement: Announcement }
  | { ok: false; reason: RejectionReason; error?: unknown }

const REASON_BY_WIRE_CODE: Partial<Record<WireErrorCode, RejectionReason>> = {
  FRAME_TOO_LARGE: 'too-large',
  UNSUPPORTED_VERSION: 'unsupported-version',
  BAD_SEAL: 'bad-seal',
  BAD_SIGNATURE: 'bad-signature',
}

/**
 * Opens a sealed announcement from the network and checks what needs no memory: size, seal,
 * signature, fields (wire-protocol), then that it is not ours and that its timestamp is inside
 * the freshness window. Never throws: every failure is a reason to count.
 */
export function checkSealedAnnouncement(
  payload: Uint8Array,
  topic: Pick<TopicKeys, 'publicId' | 'sealKey'>,
  context: FreshnessWindow & { ownKey: Uint8Array; now: number },
): CheckResult {
  if (payload.length > limits.MAX_ANNOUNCEMENT_BYTES) return { ok: false, reason: 'too-large' }
  let announcement: Announcement
  try {
    announcement = openAnnouncement(payload, topic)
  } catch (error) {
    const reason = (isWireError(error) && REASON_BY_WIRE_CODE[error.code]) || 'malformed'
    return { ok: false, reason, error }
  }
  if (equalBytes(announcement.key, context.ownKey)) return { ok: false, reason: 'own' }
  if (announcement.timestamp > context.now + context.maxClockSkewMs) {
    return { ok: false, reason: 'from-future' }
  }
  if (announcement.timestamp < context.now - context.maxAgeMs) return { ok: false, reason: 'stale' }
  return { ok: true, announcement }
}
