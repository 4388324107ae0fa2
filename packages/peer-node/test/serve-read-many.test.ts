import { createHash } from 'node:crypto'
import { readFileSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { afterEach, describe, expect, it } from 'vitest'
import { rawRequest } from './raw-peer'
import { Cleanups, collect, connectClient, patternBytes, startServingPeer } from './serving-helpers'

const cleanups = new Cleanups()
afterEach(() => cleanups.run())

const sha = (b: Uint8Array) => createHash('sha256').update(b).digest('hex')

describe('read-many: many small files in one request (protocol 1.1)', () => {
  it('answers each file in order with its bytes or its own error; the rest continue', async () => {
    const files: Record<string, number> = {}
    for (let i = 0; i < 40; i++) files[`photos/p${i}.jpg`] = 1 + i * 700
    const peer = await startServingPeer(cleanups, files)
    const { client } = await connectClient(cleanups, peer)
    expect(client.understandsReadMany).toBe(true)
    const rows = await collect(client.ls('music/photos'))
    const byPath = new Map(rows.map((r) => [r.path, r]))
    const asked = Object.keys(files).map((p) => {
      const row = byPath.get(`music/${p}`)!
      return { path: row.path, size: row.size, mtime: row.mtime! }
    })
    // One file is gone, one has changed since it was listed, one is asked with a wrong mtime.
    asked.splice(5, 0, { path: 'music/photos/gone.jpg', size: 10, mtime: 1 })
    writeFileSync(join(peer.shareDir, 'photos/p7.jpg'), patternBytes(30, 9))
    asked[20] = { ...asked[20]!, mtime: asked[20]!.mtime + 1 }

    const results = await collect(client.readMany(asked))
    expect(results.map((r) => r.index)).toEqual(asked.map((_, i) => i))
    for (const [i, r] of results.entries()) {
      const want = asked[i]!
      if (i === 5) expect(r.error?.code).toBe('NOT_FOUND')
      else if (want.path.endsWith('/p7.jpg') || i === 20) expect(r.error?.code).toBe('CHANGED')
      else {
        expect(r.error).toBeUndefined()
        const disk = readFileSync(join(peer.shareDir, want.path.slice('music/'.length)))
        expect(sha(r.bytes!)).toBe(sha(disk))
      }
    }
    // One upload entry for the request, named after the files' folder.
    const uploads = peer.server.uploads()
    expect(uploads).toHaveLength(1)
    expect(uploads[0]).toMatchObject({ path: 'music/photos', state: 'done' })
  })

  it('refuses an oversized or unsafe list with BAD_REQUEST, and a 65th file before sending', async () => {
    const peer = await startServingPeer(cleanups, { 'a.txt': 10 })
    const { client, connection } = await connectClient(cleanups, peer)
    const tooMany = Array.from({ length: 65 }, (_, i) => ({
      path: `music/f${i}`,
      size: 1,
      mtime: 1,
    }))
    const refused = await rawRequest(connection, { type: 'read-many', files: tooMany })
    expect(refused).toEqual([expect.objectContaining({ type: 'error', code: 'BAD_REQUEST' })])
    const traversal = await rawRequest(connection, {
      type: 'read-many',
      files: [{ path: 'music/../../etc/passwd', size: 1, mtime: 1 }],
    })
    expect(traversal).toEqual([expect.objectContaining({ type: 'error', code: 'BAD_REQUEST' })])
    const big = await rawRequest(connection, {
      type: 'read-many',
      files: Array.from({ length: 17 }, (_, i) => ({ path: `music/f${i}`, size: 65536, mtime: 1 })),
    })
    expect(big).toEqual([expect.objectContaining({ type: 'error', code: 'BAD_REQUEST' })])
    await expect(collect(client.readMany(tooMany))).rejects.toMatchObject({ code: 'BAD_PATH' })
  })
})
