import { createHash } from 'node:crypto'
import { readFileSync } from 'node:fs'
import { join } from 'node:path'
import { createPeerClient, type PeerClient } from '@harddrive-party/peer-node'
import type { Connection } from '@harddrive-party/transport'
import { afterEach, describe, expect, it } from 'vitest'
import { waitUntil } from './helpers'
import { Cleanups, connectClient, startDownloads, startServingPeer } from './serving-helpers'

const cleanups = new Cleanups()
afterEach(() => cleanups.run())

const sha = (b: Uint8Array) => createHash('sha256').update(b).digest('hex')

/** Small files of many sizes (0 to ~20 KiB) in a few folders, and two that are not small. */
function folder(): Record<string, number> {
  const files: Record<string, number> = {}
  for (let i = 0; i < 150; i++) files[`pics/d${i % 3}/f${i}.bin`] = (i * 137) % 20_000
  files['pics/big1.bin'] = 200_000
  files['pics/big2.bin'] = 70_000
  return files
}

/** A client for `connection` that counts the streams it opens (one per request). */
function countingClient(
  connection: Connection,
  remoteVersion: readonly [number, number],
): { client: PeerClient; streams: () => number } {
  let streams = 0
  const client = createPeerClient({
    openStream: (options) => {
      streams++
      return connection.openStream(options)
    },
    remoteVersion,
  })
  return { client, streams: () => streams }
}

async function download(client: PeerClient, path: string) {
  const { downloads, downloadDir } = await startDownloads(cleanups, client, 'Alice')
  const request = await downloads.add('ab'.repeat(32), path)
  await waitUntil(
    'every file downloaded',
    () => downloads.get(request.id)?.state === 'done',
    120_000,
  )
  return { downloads, request, root: join(downloadDir, 'Alice') }
}

describe('downloads of many small files', () => {
  it('fetches them through read-many from a 1.1 peer, byte-exact', async () => {
    const files = folder()
    const peer = await startServingPeer(cleanups, files)
    const { connection } = await connectClient(cleanups, peer)
    expect(connection.remoteVersion[1]).toBeGreaterThanOrEqual(1)
    const { client, streams } = countingClient(connection, connection.remoteVersion)
    const { root } = await download(client, 'music/pics')
    for (const path of Object.keys(files)) {
      const got = readFileSync(join(root, 'music', path))
      expect(sha(got), path).toBe(sha(readFileSync(join(peer.shareDir, path))))
    }
    // The listing, the two big files and one request per batch of small files: far fewer
    // requests than files (per-file reads would need one each).
    expect(streams()).toBeLessThan(Object.keys(files).length / 4)
  }, 180_000)

  it('a batch whose paths are too long for one read-many goes file by file, byte-exact', async () => {
    // 60 paths of ~560 bytes: more than read-many's 32 KiB of paths in one request.
    const deep = `${'a'.repeat(200)}/${'b'.repeat(200)}`
    const files: Record<string, number> = {}
    for (let i = 0; i < 60; i++) files[`long/${deep}/f${i}-${'c'.repeat(150)}`] = 100 + i
    const peer = await startServingPeer(cleanups, files)
    const { connection } = await connectClient(cleanups, peer)
    const { client, streams } = countingClient(connection, connection.remoteVersion)
    const { root } = await download(client, 'music/long')
    for (const path of Object.keys(files)) {
      const got = readFileSync(join(root, 'music', path))
      expect(sha(got), path).toBe(sha(readFileSync(join(peer.shareDir, path))))
    }
    expect(streams()).toBeGreaterThanOrEqual(Object.keys(files).length)
  }, 180_000)

  it('asks a peer whose hello said 1.0 file by file', async () => {
    const files = folder()
    const peer = await startServingPeer(cleanups, files)
    const { connection } = await connectClient(cleanups, peer)
    const { client, streams } = countingClient(connection, [1, 0])
    expect(client.understandsReadMany).toBe(false)
    const { root } = await download(client, 'music/pics')
    for (const path of Object.keys(files)) {
      const got = readFileSync(join(root, 'music', path))
      expect(sha(got), path).toBe(sha(readFileSync(join(peer.shareDir, path))))
    }
    expect(streams()).toBeGreaterThanOrEqual(Object.keys(files).length)
  }, 180_000)
})
