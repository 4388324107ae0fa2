import type { EventEmitter } from 'node:events'
import type { Socket } from 'node:net'
import type { TopicKeys } from '@harddrive-party/wire-protocol'
import {
  classifyAddress,
  createHelloProof,
  equalBytes,
  verifyHelloProof,
} from '@harddrive-party/wire-protocol/internal'
import { type AttemptProgress, raceCarriers } from './carrier-race'
import type { HelloRefusal, PeerConnection } from './connection'
import { TransportError } from './errors'
import { abortable, type HandshakeContext, short } from './handshake'
import { decodeHelloPayload, encodeHelloPayload } from './hello'
import { CloseCode } from './mux-frame'
import { secureCarrier } from './noise'
import { connectTcp } from './tcp-carrier'
import type { Carrier, SocketAddress } from './types'
import type { UdxEndpoint } from './udx-endpoint'

export interface DialRequest {
  endpoint: UdxEndpoint
  address: SocketAddress
  expectedKey: Uint8Array
  carriers: readonly Carrier[]
  topic: TopicKeys
  signal: AbortSignal
}

/**
 * Dials a peer: races the carriers, keeps the one {@link raceCarriers} prefers among those
 * that prove `expectedKey`, then trades
 * hellos with proof of the topic. The signal covers the caller's, shutdown and the timeout.
 */
export async function dialPeer(context: HandshakeContext, request: DialRequest) {
  const { endpoint, address, expectedKey, signal } = request
  const connection = await raceCarriers(
    request.carriers,
    (carrier, attemptSignal, progress) =>
      attempt(context, carrier, endpoint, address, expectedKey, attemptSignal, progress),
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
  address: SocketAddress,
  expectedKey: Uint8Array,
  signal: AbortSignal,
  progress: AttemptProgress,
): Promise<PeerConnection> {
  let raw: EventEmitter
  let remoteAddress: SocketAddress
  if (carrier === 'udx') {
    const { stream, from } = await endpoint.connect(address.host, address.port, signal)
    raw = stream
    remoteAddress = from
  } else {
    const connectStarted = performance.now()
    raw = await connectTcp(address.host, address.port, signal)
    // This host is a LAN whatever the clock says: a busy event loop (a share scan at start-up)
    // runs the connect callback late, and the race then took UDX on loopback.
    progress.connected(onThisHost(address.host) ? 0 : performance.now() - connectStarted)
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
  return context.newConnection(
    noise,
    true,
    carrier,
    remoteAddress,
    carrier === 'udx' ? endpoint : undefined,
  )
}

/** Sends our hello and checks the acceptor's (its proof of `topic`). */
export async function dialerHello(
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
    connection.markOpen(topic, hello)
    return undefined
  }
  await abortable(connection.receiveHello(check), signal)
}

/** Whether `host` is a loopback literal (a host name is not judged). */
function onThisHost(host: string): boolean {
  try {
    return classifyAddress(host) === 'loopback'
  } catch {
    return false
  }
}
