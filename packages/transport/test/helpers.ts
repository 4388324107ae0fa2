import { createHash } from 'node:crypto'
import { fileURLToPath } from 'node:url'
import type { TopicKeys } from '@harddrive-party/wire-protocol'
import { afterEach } from 'vitest'
import {
  createIdentity,
  createTransport,
  type Transport,
  type TransportOptions,
  type TransportStream,
} from '../src/index'
import { testTopic } from '../src/testing'

export { nextConnection, readAll, serveEcho, testTopic, within } from '../src/testing'

export const fixture = (name: string) =>
  fileURLToPath(new URL(`./fixtures/${name}`, import.meta.url))

let shared: TopicKeys | undefined
/** The topic every test peer joins (derived once). */
export async function topic(): Promise<TopicKeys> {
  shared ??= await testTopic('transport-tests')
  return shared
}

const live = new Set<Transport>()
afterEach(async () => {
  await Promise.allSettled([...live].map((t) => t.stop()))
  live.clear()
})

/** A started transport on 127.0.0.1 that is stopped after the test. */
export async function startTransport(options: Partial<TransportOptions> = {}): Promise<Transport> {
  const t = await topic()
  const transport = createTransport({
    identity: createIdentity(),
    topics: () => [t],
    host: '127.0.0.1',
    ...options,
  })
  live.add(transport)
  await transport.start()
  return transport
}

/** Writes `data` in 64 KiB chunks, then ends the stream. */
export async function writeAll(stream: TransportStream, data: Uint8Array): Promise<void> {
  for (let at = 0; at < data.length; at += 65536) await stream.write(data.subarray(at, at + 65536))
  await stream.end()
}

export async function sha256Of(
  stream: AsyncIterable<Uint8Array>,
): Promise<{ hash: string; bytes: number }> {
  const hash = createHash('sha256')
  let bytes = 0
  for await (const chunk of stream) {
    hash.update(chunk)
    bytes += chunk.length
  }
  return { hash: hash.digest('hex'), bytes }
}

export function sha256(data: Uint8Array): string {
  return createHash('sha256').update(data).digest('hex')
}

export const loopback = (t: Transport) => ({ host: '127.0.0.1', port: t.address().port })
