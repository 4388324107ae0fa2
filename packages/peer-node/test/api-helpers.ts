import { mkdir, writeFile } from 'node:fs/promises'
import { request } from 'node:http'
import { join } from 'node:path'
import {
  type ApiClient,
  type ApiServer,
  createApiClient,
  createApiServer,
  type PeerNode,
} from '@harddrive-party/peer-node'
import { afterAll, beforeAll } from 'vitest'
import { Cleanup, connectedTo, loopbackOptions, useMosquitto, waitUntil } from './helpers'

export interface ApiPair {
  /** Shares `files/music/` (a.mp3, b.txt) and `files/video/clip.mp4`. */
  alice: PeerNode
  /** Runs the API. */
  bob: PeerNode
  server: ApiServer
  client: ApiClient
  /** Bob's own share dir, not shared yet (holds `own/notes.txt`, `own/clip.mp4`). */
  bobShare: string
  /** 64 KiB of known bytes in alice's `video/clip.mp4` and bob's `own/clip.mp4`. */
  clip: Buffer
  cleanup: Cleanup
}

/** A real pair on loopback (mosquitto, one topic), alice sharing files, bob serving the API. */
export function useApiPair(): { readonly pair: ApiPair } {
  const broker = useMosquitto()
  let pair: ApiPair | undefined
  beforeAll(async () => {
    const cleanup = new Cleanup()
    const [aliceDir, bobDir, filesParent, bobParent, downloadDir, webRoot] = await Promise.all([
      cleanup.dir(),
      cleanup.dir(),
      cleanup.dir(),
      cleanup.dir(),
      cleanup.dir(),
      cleanup.dir(),
    ])
    // Share names come from the directory names: `files` and `bobfiles`.
    const files = join(filesParent, 'files')
    const bobFiles = join(bobParent, 'bobfiles')
    await mkdir(files)
    await mkdir(bobFiles)
    const clip = Buffer.alloc(65_536)
    for (let i = 0; i < clip.length; i++) clip[i] = (i * 7 + (i >> 8)) & 0xff
    await mkdir(join(files, 'music'))
    await mkdir(join(files, 'video'))
    await writeFile(join(files, 'music', 'a.mp3'), 'not really an mp3')
    await writeFile(join(files, 'music', 'b.txt'), 'hello from alice')
    await writeFile(join(files, 'video', 'clip.mp4'), clip)
    await writeFile(join(files, 'video', 'big.mp4'), Buffer.alloc(1024 * 1024, 7))
    await mkdir(join(bobFiles, 'own'))
    await writeFile(join(bobFiles, 'own', 'notes.txt'), 'bob notes')
    await writeFile(join(bobFiles, 'own', 'clip.mp4'), clip)
    const alice = cleanup.node(loopbackOptions(aliceDir, broker.url))
    const bob = cleanup.node(loopbackOptions(bobDir, broker.url, { downloadDir }))
    await Promise.all([alice.start(), bob.start()])
    await alice.store.shares.add(files)
    await alice.store.rescan()
    await alice.join('api test')
    await bob.join('api test')
    await waitUntil('the pair connects', () => connectedTo(bob).length === 1)
    await writeFile(join(webRoot, 'index.html'), '<!doctype html><h1>harddrive-party</h1>')
    const server = createApiServer({ node: bob, port: 0, webRoot })
    await server.start()
    const client = createApiClient({ url: server.url, token: server.token })
    pair = { alice, bob, server, client, bobShare: bobFiles, clip, cleanup }
  }, 60_000)
  afterAll(async () => {
    await pair?.server.stop()
    await pair?.cleanup.run()
  })
  return {
    get pair() {
      if (!pair) throw new Error('the pair is not started')
      return pair
    },
  }
}

/** A raw request to the API (no client), for what the client would never send. */
export async function raw(
  server: ApiServer,
  path: string,
  init: RequestInit & { headers?: Record<string, string> } = {},
): Promise<Response> {
  return fetch(new URL(path, server.url), init)
}

export function bearer(server: ApiServer): Record<string, string> {
  return { authorization: `Bearer ${server.token}` }
}

/** An HTTP request whose path is sent byte for byte (fetch would normalise `..`). */
export function rawPath(
  server: ApiServer,
  path: string,
  headers: Record<string, string> = {},
  method = 'GET',
): Promise<{
  status: number
  headers: Record<string, string | string[] | undefined>
  body: Buffer
}> {
  const url = new URL(server.url)
  return new Promise((resolve, reject) => {
    const req = request(
      { host: url.hostname, port: url.port, path, method, headers: { host: url.host, ...headers } },
      (res) => {
        const chunks: Buffer[] = []
        res.on('data', (c: Buffer) => chunks.push(c))
        res.on('end', () =>
          resolve({
            status: res.statusCode ?? 0,
            headers: res.headers,
            body: Buffer.concat(chunks),
          }),
        )
        res.on('error', reject)
      },
    )
    req.on('error', reject)
    req.end()
  })
}
