import type { EventEmitter } from 'node:events'
import type { Socket } from 'node:net'
import { createHelloProof, verifyHelloProof } from '@harddrive-party/wire-protocol/internal'
import type NoiseSecretStream from '@hyperswarm/secret-stream'
import type { Admission, HalfOpenTicket } from './admission'
import type { HelloRefusal, PeerConnection } from './connection'
import { TransportError } from './errors'
import { abortable, type HandshakeContext, short } from './handshake'
import { decodeHelloPayload, encodeHelloPayload } from './hello'
import { CloseCode } from './mux-frame'
import { secureCarrier } from './noise'
import { readAccepted } from './tcp-carrier'
import type { Carrier, SocketAddress } from './types'
import type { UdxEndpoint } from './udx-endpoint'
import { isLaneHello } from './udx-lane'

/**
 * Takes a carrier stream someone opened to us (admission already counted it in `ticket`) and
 * runs the acceptor's handshake in the background; failures are logged, never thrown.
 */
export function acceptIncoming(
  context: HandshakeContext,
  raw: EventEmitter,
  carrier: Carrier,
  from: SocketAddress,
  ticket: HalfOpenTicket,
  endpoint?: UdxEndpoint,
): void {
  const handshake = context.handshakeSignal()
  if (handshake === undefined) {
    ;(raw as Socket).destroy()
    ticket.release()
    return
  }
  const work = acceptOn(context, raw, carrier, from, handshake.signal, endpoint)
    .then((connection) => {
      if (!connection.isLane) context.announce(connection)
    })
    .catch((err) => {
      context.log(
        'handshake from %s:%d (%s) failed: %s %s',
        from.host,
        from.port,
        carrier,
        (err as { code?: string }).code ?? '',
        (err as Error).message,
      )
    })
    .finally(() => {
      ticket.release()
      handshake.done()
    })
  void context.track(work)
}

/** A TCP connection to our listener: rate-limited per host, then accepted like UDX. */
export function acceptTcpSocket(
  context: HandshakeContext,
  admission: Admission | undefined,
  socket: Socket,
): void {
  const host = socket.remoteAddress
  const port = socket.remotePort
  socket.on('error', (err) => context.log.trace('tcp %s:%d: %s', host, port, err.message))
  if (admission === undefined || host === undefined || port === undefined) {
    socket.destroy()
    return
  }
  const from = { host: stripMappedPrefix(host), port }
  if (!admission.takeToken(from.host)) {
    context.log('rate limited tcp handshake from %s:%d', from.host, from.port)
    socket.destroy()
    return
  }
  const reading = readAccepted(socket)
  reading.on('error', (err) => context.log.trace('tcp %s:%d: %s', host, port, err.message))
  reading.setNoDelay(true)
  const ticket = admission.track(from.host, () => reading.destroy())
  acceptIncoming(context, reading, 'tcp', from, ticket)
}

/**
 * The acceptor's handshake on a carrier stream: Noise, the firewall, the hellos. Resolves
 * with the open connection, registered with the transport (the caller announces it).
 */
export async function acceptOn(
  context: HandshakeContext,
  raw: EventEmitter,
  carrier: Carrier,
  from: SocketAddress,
  signal: AbortSignal,
  endpoint?: UdxEndpoint,
): Promise<PeerConnection> {
  let noise: NoiseSecretStream
  try {
    noise = await secureCarrier(raw, false, context.identity, signal)
  } catch (err) {
    ;(raw as Socket).destroy()
    throw err
  }
  const { options } = context
  const connection = context.newConnection(noise, false, carrier, from, endpoint)
  try {
    const remoteKey = connection.remotePublicKey
    const firewall = options.firewall
    if (firewall !== undefined && (await firewall(remoteKey, { ...from, carrier }))) {
      const error = new TransportError('REJECTED', `firewall refused ${short(remoteKey)}`)
      await connection.reject(CloseCode.REJECTED, 'refused', error)
      throw error
    }
    const proofInput = {
      dialerKey: remoteKey,
      acceptorKey: context.identity.publicKey,
      binding: connection.handshakeHash,
    }
    const check = (payload: Uint8Array): HelloRefusal | undefined => {
      // A bulk lane of a connection we have (its key is checked there), not a connection.
      if (isLaneHello(payload)) return context.adoptLane(connection, payload, carrier)
      const hello = decodeHelloPayload(payload) // throws: refused as BAD_HELLO
      const topic = verifyHelloProof(options.topics(), hello.proof, {
        role: 'dialer',
        ...proofInput,
      })
      if (topic === undefined) {
        return {
          code: CloseCode.NOT_TOPIC_MEMBER,
          reason: 'no shared topic',
          error: new TransportError(
            'NOT_TOPIC_MEMBER',
            `${short(remoteKey)} proved no topic of ours`,
          ),
        }
      }
      connection.sendHello(
        encodeHelloPayload(
          createHelloProof(topic, { role: 'acceptor', ...proofInput }),
          options.agent,
        ),
      )
      connection.markOpen(topic, hello)
      return undefined
    }
    await abortable(connection.receiveHello(check), signal)
    if (!connection.isLane) context.register(connection)
    return connection
  } catch (err) {
    connection.destroy(err instanceof Error ? err : undefined)
    throw err
  }
}

function stripMappedPrefix(host: string): string {
  return host.startsWith('::ffff:') ? host.slice(7) : host
}
