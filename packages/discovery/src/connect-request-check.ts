import { isWireError, type TopicKeys, type WireErrorCode } from '@harddrive-party/wire-protocol'
import {
  type ConnectRequest,
  equalBytes,
  openConnectRequest,
} from '@harddrive-party/wire-protocol/internal'
import type { RejectionReason } from './discovery'
import { bytesToHex } from './hex'
import { ReplayGuard } from './replay-guard'

export type ConnectCheckResult =
  | { ok: true; request: ConnectRequest }
  | { ok: false; reason: RejectionReason; error?: unknown }

const REASON_BY_WIRE_CODE: Partial<Record<WireErrorCode, RejectionReason>> = {
  FRAME_TOO_LARGE: 'too-large',
  UNSUPPORTED_VERSION: 'unsupported-version',
  BAD_SEAL: 'bad-seal',
  BAD_SIGNATURE: 'bad-signature',
}

/** Nonces of accepted connect requests, per topic (each kept for twice the clock skew). */
const REQUEST_NONCES = 1024

/**
 * Checks a connect request that arrived in our inbox slot (docs/protocol.md §6.2): seal (for
 * us), fields and signature (wire-protocol), not ours, timestamp within the clock skew either
 * way, nonce not seen. Never throws: every failure is a reason to count.
 */
export class ConnectRequestCheck {
  readonly #nonces = new Map<string, ReplayGuard>()

  check(
    payload: Uint8Array,
    topic: Pick<TopicKeys, 'publicId' | 'sealKey'>,
    context: { ownKey: Uint8Array; now: number; maxClockSkewMs: number },
  ): ConnectCheckResult {
    let request: ConnectRequest
    try {
      request = openConnectRequest(payload, topic, context.ownKey)
    } catch (error) {
      const reason = (isWireError(error) && REASON_BY_WIRE_CODE[error.code]) || 'malformed'
      return { ok: false, reason, error }
    }
    if (equalBytes(request.from, context.ownKey)) return { ok: false, reason: 'own' }
    if (request.timestamp > context.now + context.maxClockSkewMs) {
      return { ok: false, reason: 'from-future' }
    }
    if (request.timestamp < context.now - context.maxClockSkewMs) {
      return { ok: false, reason: 'stale' }
    }
    let nonces = this.#nonces.get(topic.publicId)
    if (!nonces) {
      nonces = new ReplayGuard(REQUEST_NONCES)
      this.#nonces.set(topic.publicId, nonces)
    }
    const nonce = bytesToHex(request.nonce)
    if (nonces.has(nonce, context.now)) return { ok: false, reason: 'replay' }
    nonces.add(nonce, request.timestamp + 2 * context.maxClockSkewMs, context.now)
    return { ok: true, request }
  }

  forget(publicId?: string): void {
    if (publicId === undefined) this.#nonces.clear()
    else this.#nonces.delete(publicId)
  }
}
