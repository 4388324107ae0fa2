import type { EventEmitter } from 'node:events'
import type { Socket } from 'node:net'
import {
  createHelloProof,
  equalBytes,
  type TopicKeys,
  verifyHelloProof,
} from '@harddrive-party/wire-protocol'
import type { HelloRefusal, PeerConnection } from './connection'
import { isTransportError, TransportError, type TransportErrorCode } from './errors'
import { abortable, type HandshakeContext, short } from './handshake'
import { decodeHelloPayload, encodeHelloPayload } from './hello'
import { CloseCode } from './mux-frame'
import { secureCarrier } from './noise'
import { connectTcp } from './tcp-carrier'
import type { Address, Carrier } from './types'
import type { UdxEndpoint } from './udx-endpoint'

export interface DialRequest {
  endpoint: UdxEndpoint
  address: Address
  expectedKey: Uint8Array
  carriers: readonly Carrier[]
  topic: TopicKeys
  signal: AbortSignal
}

/**
 * Dials a peer: races the carriers, keeps the first that proves `expectedKey`, then trades
 * hellos with proof of the topic. The signal covers the caller's, shutdown and the timeout.
 */
export async function dialPeer(context: HandshakeContext, request: DialRequest) {
  const { endpoint, address, expectedKey, signal } = request
  const connection = await raceCarriers(
    request.carriers,
    (carrier, attemptSignal) =>
      attempt(context, carrier, endpoint, address, expectedKey, attemptSignal),
    signal,
  )
  try {
    await dialerHello(context, connection, request.topic, signal)
  } catch (err) {
    connection.destroy(err instanceof Error ? err : undefined)
    throw err
  }
  context.register(connection)
  return connection
}

/** One carrier's attempt: transport-level connect, Noise, and the key check. */
async function attempt(
  context: HandshakeContext,
  carrier: Carrier,
  endpoint: UdxEndpoint,
  address: Address,
  expectedKey: Uint8Array,
  signal: AbortSignal,
): Promise<PeerConnection> {
  let raw: EventEmitter
  let remoteAddress: Address
  if (carrier === 'udx') {
    const { stream, from } = await endpoint.connect(address.host, address.port, signal)
    raw = stream
    remoteAddress = from
  } else {
    raw = await connectTcp(address.host, address.port, signal)
    remoteAddress = { host: address.host, port: address.port }
  }
  const noise = await secureCarrier(raw, true, context.identity, signal).catch((err) => {
    ;(raw as Socket).destroy()
    throw err
  })
  if (!equalBytes(noise.remotePublicKey!, expectedKey)) {
    noise.destroy()
    throw new TransportError(
      'PEER_KEY_MISMATCH',
      `${address.host}:${address.port} (${carrier}) proved key ${short(noise.remotePublicKey!)}, expected ${short(expectedKey)}`,
    )
  }
  return context.newConnection(noise, true, carrier, remoteAddress)
}

/** Resolves with the first attempt that succeeds; the others are cancelled. */
async function raceCarriers(
  carriers: readonly Carrier[],
  run: (carrier: Carrier, signal: AbortSignal) => Promise<PeerConnection>,
  signal: AbortSignal,
): Promise<PeerConnection> {
  if (carriers.length === 0) throw new TypeError('no carrier to dial with')
  const controllers = carriers.map(() => new AbortController())
  const onAbort = () => {
    for (const c of controllers) c.abort(signal.reason)
  }
  signal.addEventListener('abort', onAbort, { once: true })
  let winner: PeerConnection | undefined
  const errors: unknown[] = []
  try {
    await new Promise<void>((resolve, reject) => {
      let pending = carriers.length
      carriers.forEach((carrier, i) => {
        run(carrier, controllers[i]!.signal).then(
          (connection) => {
            if (winner !== undefined || signal.aborted) {
              connection.destroy()
              return
            }
            winner = connection
            controllers.forEach((c, j) => {
              if (j !== i) c.abort(new TransportError('CLOSED', `${carrier} won the race`))
            })
            resolve()
          },
          (err) => {
            errors.push(err)
            if (--pending === 0 && winner === undefined) reject(mostTelling(errors, signal))
          },
        )
      })
    })
  } finally {
    signal.removeEventListener('abort', onAbort)
  }
  return winner!
}

async function dialerHello(
  context: HandshakeContext,
  connection: PeerConnection,
  topic: TopicKeys,
  signal: AbortSignal,
) {
  const proofInput = {
    dialerKey: context.identity.publicKey,
    acceptorKey: connection.remotePublicKey,
    binding: connection.handshakeHash,
  }
  connection.sendHello(
    encodeHelloPayload(
      createHelloProof(topic, { role: 'dialer', ...proofInput }),
      context.options.agent,
    ),
  )
  // Checked synchronously in the frame path: streams the acceptor opens right after its
  // hello arrive in the same message and must find the multiplexer open (issue 9.4).
  const check = (payload: Uint8Array): HelloRefusal | undefined => {
    const hello = decodeHelloPayload(payload) // throws: refused as BAD_HELLO
    if (verifyHelloProof([topic], hello.proof, { role: 'acceptor', ...proofInput }) === undefined) {
      return {
        code: CloseCode.NOT_TOPIC_MEMBER,
        reason: 'bad acceptor proof',
        error: new TransportError('NOT_TOPIC_MEMBER', 'the remote could not prove the topic'),
      }
    }
    connection.markOpen(topic, hello.agent)
    return undefined
  }
  await abortable(connection.receiveHello(check), signal)
}

const ERROR_RANK: TransportErrorCode[] = [
  'PEER_KEY_MISMATCH',
  'RATE_LIMITED',
  'HANDSHAKE_FAILED',
  'TIMEOUT',
  'CLOSED',
]

/** Of several failed attempts, the error that tells the caller most. */
function mostTelling(errors: unknown[], signal: AbortSignal): unknown {
  if (signal.aborted) return signal.reason
  for (const code of ERROR_RANK) {
    const found = errors.find((e) => isTransportError(e) && e.code === code)
    if (found !== undefined) return found
  }
  return errors[0]
}
