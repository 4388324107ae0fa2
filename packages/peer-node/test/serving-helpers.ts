import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { dirname, join } from 'node:path'
import { type IndexStore, openIndexStore } from '@harddrive-party/index-store'
import {
  createPeerClient,
  createRequestServer,
  type PeerClient,
  type RequestServer,
  type ServingLimits,
} from '@harddrive-party/peer-node'
import {
  type Carrier,
  type Connection,
  createIdentity,
  createTransport,
  type Transport,
} from '@harddrive-party/transport'
import { nextConnection, testTopic } from '@harddrive-party/transport/testing'
import type { Logger, TopicKeys } from '@harddrive-party/wire-protocol'
import { DownloadsImpl } from '../src/downloads/downloads'
import { defaultLogger } from '../src/logger'

/** Clean-ups registered by a test, run in reverse order by `cleanup()` (call it in afterEach). */
export class Cleanups {
  readonly #steps: (() => unknown)[] = []
  add(step: () => unknown): void {
    this.#steps.push(step)
  }
  async run(): Promise<void> {
    for (const step of this.#steps.splice(0).reverse()) {
      try {
        await step()
      } catch {
        // one failed clean-up must not keep the others from running
      }
    }
  }
}

export function tempDir(cleanups: Cleanups, prefix = 'hdp-peer-node-'): string {
  const path = mkdtempSync(join(tmpdir(), prefix))
  cleanups.add(() => rmSync(path, { recursive: true, force: true }))
  return path
}

/** Writes `files` (relative path -> content or size in bytes of a repeating pattern) under `root`. */
export function makeTree(root: string, files: Record<string, string | number>): void {
  for (const [path, content] of Object.entries(files)) {
    const full = join(root, path)
    mkdirSync(dirname(full), { recursive: true })
    writeFileSync(full, typeof content === 'string' ? content : patternBytes(content))
  }
}

/** `n` bytes of a pattern that differs at every offset (so a shifted or spliced range is caught). */
export function patternBytes(n: number, start = 0): Buffer {
  const out = Buffer.allocUnsafe(n)
  for (let i = 0; i < n; i++) out[i] = ((start + i) * 31 + ((start + i) >> 8)) & 0xff
  return out
}

let topicPromise: Promise<TopicKeys> | undefined
export function topic(): Promise<TopicKeys> {
  topicPromise ??= testTopic('peer-node serving tests')
  return topicPromise
}

export async function startTransport(cleanups: Cleanups): Promise<Transport> {
  const t = await topic()
  const transport = createTransport({
    identity: createIdentity(),
    topics: () => [t],
    host: '127.0.0.1',
  })
  await transport.start()
  cleanups.add(() => transport.stop())
  return transport
}

export interface ServingPeer {
  store: IndexStore
  server: RequestServer
  transport: Transport
  shareDir: string
}

/** A peer sharing `files` in a directory named `shareName`, serving every connection it accepts. */
export async function startServingPeer(
  cleanups: Cleanups,
  files: Record<string, string | number>,
  options: { limits?: Partial<ServingLimits>; shareName?: string; serve?: boolean } = {},
): Promise<ServingPeer> {
  const base = tempDir(cleanups)
  const shareDir = join(base, options.shareName ?? 'music')
  mkdirSync(shareDir)
  makeTree(shareDir, files)
  const store = await openIndexStore({ path: join(base, 'db'), scanThreads: 0 })
  cleanups.add(() => store.stop())
  await store.shares.add(shareDir)
  await store.rescan()
  const server = createRequestServer({
    store,
    ...(options.limits ? { limits: options.limits } : {}),
  })
  await server.start()
  cleanups.add(() => server.stop())
  const transport = await startTransport(cleanups)
  if (options.serve !== false) {
    transport.addEventListener('connection', ({ detail }) => void server.serve(detail))
  }
  return { store, server, transport, shareDir }
}

/** A second transport dialled to `peer` over `carrier`, with a client for it. */
export async function connectClient(
  cleanups: Cleanups,
  peer: ServingPeer,
  carrier: Carrier = 'tcp',
): Promise<{ client: PeerClient; connection: Connection; transport: Transport }> {
  const transport = await startTransport(cleanups)
  const accepted = nextConnection(peer.transport)
  const connection = await transport.dial(
    { host: '127.0.0.1', port: peer.transport.address().port },
    peer.transport.publicKey,
    { topic: await topic(), carriers: [carrier] },
  )
  await accepted
  return { client: createPeerClient(connection), connection, transport }
}

export async function collect<T>(source: AsyncIterable<T>): Promise<T[]> {
  const out: T[] = []
  for await (const item of source) out.push(item)
  return out
}

export async function readBody(body: AsyncIterable<Uint8Array>): Promise<Buffer> {
  const parts: Buffer[] = []
  for await (const chunk of body) parts.push(Buffer.from(chunk))
  return Buffer.concat(parts)
}

/** The error `promise` rejects with (fails the test when it resolves). */
export async function rejection(
  promise: Promise<unknown>,
): Promise<{ code?: string; name?: string; message: string }> {
  try {
    await promise
  } catch (err) {
    return err as { code?: string; name?: string; message: string }
  }
  throw new Error('expected a rejection')
}

/**
 * A started downloads engine over a fresh index store, fetching through `client` from a peer
 * named `peerName`: its files land under `<downloadDir>/<peerName>`.
 */
export async function startDownloads(
  cleanups: Cleanups,
  client: PeerClient,
  peerName: string,
  log: Logger = defaultLogger('test'),
): Promise<{ downloads: DownloadsImpl; downloadDir: string }> {
  const dir = tempDir(cleanups)
  const store = await openIndexStore({ path: join(dir, 'db') })
  cleanups.add(() => store.close())
  const downloadDir = join(dir, 'downloads')
  const downloads = new DownloadsImpl({
    wishlist: store.wishlist,
    downloadDir,
    client: () => client,
    peerName: () => peerName,
    options: {},
    log,
  })
  cleanups.add(() => downloads.stop())
  downloads.start()
  return { downloads, downloadDir }
}
