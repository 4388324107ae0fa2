import type { PeerFound } from '@harddrive-party/discovery'
import {
  type Connection,
  duplexFromStream,
  type Transport,
  type TransportStream,
} from '@harddrive-party/transport'
import {
  decodeRelayResponse,
  encodeFrame,
  encodeRelayMessage,
  FrameDecoder,
  type TopicKeys,
} from '@harddrive-party/wire-protocol'
import { describeError, PeerNodeError } from '../errors'

/** The relay's answer is one small frame. */
const MAX_ANSWER_BYTES = 4096
/** A relay that does not answer within this is skipped. */
const ANSWER_TIMEOUT_MS = 5000
/** Relays asked per attempt: each refusal costs a round trip. */
const MAX_RELAYS_TRIED = 4

/**
 * Members we could ask to relay to `target`: connected to us directly (not through a relay),
 * announcing `relay: true`, not the target itself; open NATs first (they reach everyone).
 */
export function relayCandidates(
  connections: readonly Connection[],
  announced: ReadonlyMap<string, PeerFound[]>,
  target: string,
): Connection[] {
  const rank = (c: Connection) => {
    const found = announced.get(hex(c.remotePublicKey)) ?? []
    if (!found.some((f) => f.announcement.relay === true)) return -1
    return found.some((f) => f.announcement.nat === 'open') ? 2 : 1
  }
  return connections
    .filter((c) => c.carrier !== 'relay' && c.closeReason === undefined)
    .filter((c) => hex(c.remotePublicKey) !== target && rank(c) > 0)
    .sort((a, b) => rank(b) - rank(a))
    .slice(0, MAX_RELAYS_TRIED)
}

/**
 * Dials `targetKey` through the first relay that joins us: a `relay` request on a new stream
 * to it, then our whole handshake inside that stream (`transport.dialThrough`), so the relay
 * forwards ciphertext only. Throws with every relay's reason when none worked.
 */
export async function dialThroughRelay(
  transport: Transport,
  relays: readonly Connection[],
  targetKey: Uint8Array,
  topic: TopicKeys,
  signal: AbortSignal,
): Promise<Connection> {
  if (relays.length === 0) {
    throw new PeerNodeError('NOT_CONNECTED', 'no connected member announces that it relays')
  }
  const failures: string[] = []
  for (const relay of relays) {
    signal.throwIfAborted()
    const name = hex(relay.remotePublicKey).slice(0, 8)
    let stream: TransportStream | undefined
    try {
      // No signal here: it would cover the stream's (the relayed connection's) whole life.
      stream = await relay.openStream()
      await stream.write(encodeFrame(encodeRelayMessage({ type: 'relay', to: targetKey })))
      const head = await readAnswer(stream, signal)
      return await transport.dialThrough(duplexFromStream(stream, { head }), targetKey, {
        topic,
        signal,
        remoteAddress: relay.remoteAddress,
      })
    } catch (err) {
      stream?.abort()
      if (signal.aborted) throw signal.reason
      failures.push(`relay ${name}: ${describeError(err)}`)
    }
  }
  throw new PeerNodeError('NOT_CONNECTED', failures.join('; '))
}

/** Reads the relay's answer; resolves with the bytes after it (the target's, if any). */
async function readAnswer(stream: TransportStream, signal: AbortSignal): Promise<Uint8Array[]> {
  const decoder = new FrameDecoder({ maxFrameBytes: MAX_ANSWER_BYTES })
  const reader = stream[Symbol.asyncIterator]()
  const timeout = AbortSignal.timeout(ANSWER_TIMEOUT_MS)
  const onAbort = () => stream.abort(new PeerNodeError('BAD_RESPONSE', 'the relay did not answer'))
  const stop = AbortSignal.any([signal, timeout])
  stop.addEventListener('abort', onAbort, { once: true })
  try {
    for (;;) {
      const frame = decoder.nextFrame()
      if (frame !== undefined) {
        const answer = decodeAnswer(frame)
        if (answer.type === 'error') throw new PeerNodeError(answer.code, answer.message)
        const head: Uint8Array[] = []
        for (let raw = decoder.takeRaw(Infinity); raw; raw = decoder.takeRaw(Infinity))
          head.push(raw)
        return head
      }
      const next = await reader.next()
      if (next.done === true) throw new PeerNodeError('BAD_RESPONSE', 'the relay ended the stream')
      decoder.push(next.value)
    }
  } finally {
    stop.removeEventListener('abort', onAbort)
  }
}

function decodeAnswer(frame: Uint8Array) {
  try {
    return decodeRelayResponse(frame)
  } catch (err) {
    throw new PeerNodeError('BAD_RESPONSE', `bad relay answer: ${describeError(err)}`, {
      cause: err,
    })
  }
}

/**
 * The target's side: a relay opened `stream` with a `relayed` request (`head`: bytes after it);
 * the connection inside is accepted like any other (firewall, topic proof).
 */
export function acceptThroughRelay(
  transport: Transport,
  stream: TransportStream,
  head: Uint8Array[],
  relay: Connection | undefined,
): Promise<Connection> {
  return transport.acceptThrough(duplexFromStream(stream, { head }), {
    ...(relay !== undefined ? { remoteAddress: relay.remoteAddress } : {}),
  })
}

function hex(key: Uint8Array): string {
  return Buffer.from(key).toString('hex')
}
