import type { EventEmitter } from 'node:events'
import type NoiseSecretStream from '@hyperswarm/secret-stream'
import { TransportError } from './errors'
import type { Identity } from './identity'
import { PooledSecretStream } from './message-pool'
import { MESSAGE_BYTES } from './mux-sender'
import { isReadByMessageReader } from './tcp-reader'

/**
 * Longest message a Noise XX handshake step needs (an ephemeral and a static key, a tag and
 * secret-stream's small payload are well under 1 KiB).
 */
export const MAX_HANDSHAKE_MESSAGE_BYTES = 4 * 1024
/** Longest encrypted message after the handshake: ours are at most {@link MESSAGE_BYTES}. */
export const MAX_CARRIER_MESSAGE_BYTES = MESSAGE_BYTES + 64 * 1024

/**
 * Runs the Noise XX handshake (ed25519 static keys, secret-stream's default) over a raw
 * carrier stream and resolves with the encrypted stream. XX proves the remote holds *some*
 * key; whether it is the key we wanted is checked by the caller afterwards.
 */
export async function secureCarrier(
  raw: EventEmitter,
  initiator: boolean,
  identity: Identity,
  signal: AbortSignal,
): Promise<NoiseSecretStream> {
  const noise = new PooledSecretStream(initiator, raw, {
    keyPair: {
      publicKey: Buffer.from(identity.publicKey),
      secretKey: Buffer.from(identity.secretKey),
    },
  })
  let failure: Error | undefined
  noise.on('error', (err: Error) => {
    failure ??= err
  })
  if (!isReadByMessageReader(raw)) guardMessageLengths(raw, noise, initiator ? 1 : 2)
  const onAbort = () => noise.destroy()
  signal.addEventListener('abort', onAbort, { once: true })
  try {
    const ok = await noise.opened
    signal.throwIfAborted()
    if (!ok || noise.remotePublicKey === null || noise.handshakeHash === null) {
      throw new TransportError(
        'HANDSHAKE_FAILED',
        `noise handshake failed: ${failure?.message ?? 'carrier closed'}`,
        { cause: failure },
      )
    }
    return noise
  } catch (err) {
    noise.destroy()
    throw err
  } finally {
    signal.removeEventListener('abort', onAbort)
  }
}

/**
 * Caps the length each carrier message declares, before secret-stream sees it: secret-stream
 * allocates the declared length (up to 16 MiB) as soon as a message is split across reads,
 * so 256 half-open connections sending 4 bytes each once reserved 4 GiB (issue 9.6).
 * Frames are `uint24le length | body`; this only follows the headers, O(1) per message.
 * Our listener goes in front of secret-stream's, and destroying the stream before it reads
 * the chunk stops it right after the header, before the allocation.
 */
function guardMessageLengths(raw: EventEmitter, noise: NoiseSecretStream, handshakeIn: number) {
  // XX: the initiator receives one handshake message, the acceptor two.
  let messages = 0
  let headerBytes = 0
  let length = 0
  let bodyLeft = 0
  const onData = (chunk: Uint8Array) => {
    let at = 0
    while (at < chunk.length) {
      if (bodyLeft > 0) {
        const skip = Math.min(bodyLeft, chunk.length - at)
        bodyLeft -= skip
        at += skip
        continue
      }
      length += chunk[at++]! * 2 ** (8 * headerBytes)
      if (++headerBytes < 3) continue
      const cap = messages++ < handshakeIn ? MAX_HANDSHAKE_MESSAGE_BYTES : MAX_CARRIER_MESSAGE_BYTES
      if (length > cap) {
        raw.off('data', onData)
        noise.destroy(
          new TransportError('PROTOCOL_ERROR', `carrier message of ${length} bytes (cap ${cap})`),
        )
        return
      }
      bodyLeft = length
      headerBytes = 0
      length = 0
    }
  }
  // prependListener (not on): it neither starts the flow early nor runs after secret-stream.
  raw.prependListener('data', onData)
}
