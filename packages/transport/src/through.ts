import type { Duplex } from 'node:stream'
import type { TopicKeys } from '@harddrive-party/wire-protocol'
import { equalBytes } from '@harddrive-party/wire-protocol/internal'
import { acceptOn } from './accept'
import type { PeerConnection } from './connection'
import { dialerHello } from './dial'
import { TransportError } from './errors'
import { type HandshakeContext, short } from './handshake'
import { secureCarrier } from './noise'
import type { SocketAddress } from './types'

/** Where a relayed connection's remote "is" when the caller does not say: nowhere dialable. */
const NO_ADDRESS: SocketAddress = { host: '0.0.0.0', port: 0 }

export interface ThroughRequest {
  carrier: Duplex
  remoteAddress: SocketAddress | undefined
  signal: AbortSignal | undefined
}

/**
 * Our whole handshake (Noise XX with the key check, hellos with topic proofs, then the
 * multiplexer) over a byte stream someone else carries, e.g. a relay's stream: whoever
 * carries it sees only Noise ciphertext. Carrier `'relay'`.
 */
export async function dialThroughCarrier(
  context: HandshakeContext,
  request: ThroughRequest & { expectedKey: Uint8Array; topic: TopicKeys },
): Promise<PeerConnection> {
  const { carrier, expectedKey } = request
  const handshake = running(context, request)
  try {
    const noise = await secureCarrier(carrier, true, context.identity, handshake.signal)
    if (!equalBytes(noise.remotePublicKey!, expectedKey)) {
      noise.destroy()
      throw new TransportError(
        'PEER_KEY_MISMATCH',
        `the relayed peer proved key ${short(noise.remotePublicKey!)}, expected ${short(expectedKey)}`,
      )
    }
    const address = request.remoteAddress ?? NO_ADDRESS
    const connection = context.newConnection(noise, true, 'relay', address)
    try {
      await dialerHello(context, connection, request.topic, handshake.signal)
    } catch (err) {
      connection.destroy(err instanceof Error ? err : undefined)
      throw err
    }
    context.register(connection)
    return connection
  } catch (err) {
    carrier.destroy()
    throw err
  } finally {
    handshake.done()
  }
}

/** The acceptor's side of {@link dialThroughCarrier}: firewall and topic proof as for any dial. */
export async function acceptThroughCarrier(
  context: HandshakeContext,
  request: ThroughRequest,
): Promise<PeerConnection> {
  const handshake = running(context, request)
  try {
    return await acceptOn(
      context,
      request.carrier,
      'relay',
      request.remoteAddress ?? NO_ADDRESS,
      handshake.signal,
    )
  } catch (err) {
    request.carrier.destroy()
    throw err
  } finally {
    handshake.done()
  }
}

function running(context: HandshakeContext, request: ThroughRequest) {
  const handshake = context.handshakeSignal(request.signal)
  if (handshake === undefined) {
    request.carrier.destroy()
    throw new TransportError('NOT_STARTED', 'the transport is not started')
  }
  return handshake
}
