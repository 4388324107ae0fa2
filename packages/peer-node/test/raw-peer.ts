import { createPeerClient, type PeerClient } from '@harddrive-party/peer-node'
import type { Connection, TransportStream } from '@harddrive-party/transport'
import { nextConnection } from '@harddrive-party/transport/testing'
import { encodeFrame, FrameDecoder } from '@harddrive-party/wire-protocol'
import { decodeCbor, encodeCbor } from '@harddrive-party/wire-protocol/internal'
import { type Cleanups, startTransport, topic } from './serving-helpers'

/** One protocol frame holding `value` as CBOR. */
export const frame = (value: unknown): Uint8Array => encodeFrame(encodeCbor(value))

/** The first frame on `stream` (a request), decoded. */
export async function firstFrame(stream: TransportStream): Promise<Record<string, unknown>> {
  const decoder = new FrameDecoder()
  for await (const chunk of stream) {
    decoder.push(chunk)
    const f = decoder.nextFrame()
    if (f !== undefined) return decodeCbor(f) as Record<string, unknown>
  }
  throw new Error('no request')
}

/**
 * A test double of a peer: a real transport that answers every stream it is given with
 * `answer(stream)` (hand-written bytes, honest or not), dialled over TCP on loopback. Returns our
 * client for it and the connection.
 */
export async function startHostilePeer(
  cleanups: Cleanups,
  answer: (stream: TransportStream) => Promise<void>,
): Promise<{ client: PeerClient; connection: Connection }> {
  const server = await startTransport(cleanups)
  server.addEventListener('connection', ({ detail }) => {
    void (async () => {
      for await (const stream of detail.incomingStreams()) void answer(stream).catch(() => {})
    })()
  })
  const dialer = await startTransport(cleanups)
  const accepted = nextConnection(server)
  const connection = await dialer.dial(
    { host: '127.0.0.1', port: server.address().port },
    server.publicKey,
    { topic: await topic(), carriers: ['tcp'] },
  )
  await accepted
  return { client: createPeerClient(connection), connection }
}

/**
 * The real protocol without our client: sends one request (a value to encode, or raw payload
 * bytes) on a new stream and returns the answer's frames as plain CBOR values (raw bytes after
 * a header are skipped). What a hostile peer would do, and how tests check the server alone.
 */
export async function rawRequest(
  connection: Connection,
  request: unknown,
): Promise<Record<string, unknown>[]> {
  const stream = await connection.openStream()
  const payload = request instanceof Uint8Array ? request : encodeCbor(request)
  await stream.write(encodeFrame(payload))
  await stream.end()
  const decoder = new FrameDecoder()
  const frames: Record<string, unknown>[] = []
  let raw = 0
  for await (const chunk of stream) {
    decoder.push(chunk)
    for (;;) {
      if (raw > 0) {
        const bytes = decoder.takeRaw(raw)
        if (bytes === undefined) break
        raw -= bytes.length
        continue
      }
      const frame = decoder.nextFrame()
      if (frame === undefined) break
      const message = decodeCbor(frame) as Record<string, unknown>
      frames.push(message)
      if (message.type === 'header') raw = Number(message.length)
    }
  }
  return frames
}

/** What each promise has done after `ms`: still pending, fulfilled or rejected (with its code). */
export async function outcomesAfter(promises: Promise<unknown>[], ms: number): Promise<string[]> {
  const outcomes: string[] = promises.map(() => 'pending')
  promises.forEach((p, i) => {
    p.then(
      () => {
        outcomes[i] = 'fulfilled'
      },
      (err: { code?: string; name?: string }) => {
        outcomes[i] = err.code ?? err.name ?? 'rejected'
      },
    )
  })
  await new Promise((resolve) => setTimeout(resolve, ms))
  return [...outcomes]
}
