import type { EventEmitter } from 'node:events'
import NoiseSecretStream from '@hyperswarm/secret-stream'
import { TransportError } from './errors'
import type { Identity } from './identity'

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
  const noise = new NoiseSecretStream(initiator, raw, {
    keyPair: {
      publicKey: Buffer.from(identity.publicKey),
      secretKey: Buffer.from(identity.secretKey),
    },
  })
  let failure: Error | undefined
  noise.on('error', (err: Error) => {
    failure ??= err
  })
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
