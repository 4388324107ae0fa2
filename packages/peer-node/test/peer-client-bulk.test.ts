import { createHash } from 'node:crypto'
import { readFileSync } from 'node:fs'
import { join } from 'node:path'
import { createPeerClient } from '@harddrive-party/peer-node'
import type { Connection } from '@harddrive-party/transport'
import { afterEach, describe, expect, it } from 'vitest'
import { Cleanups, connectClient, startServingPeer } from './serving-helpers'

const cleanups = new Cleanups()
afterEach(() => cleanups.run())

const sha = (b: Uint8Array) => createHash('sha256').update(b).digest('hex')

describe('reads on the bulk lane', () => {
  it('a bulk read goes on the UDX bulk lane, byte-exact; ls stays on the connection', async () => {
    const peer = await startServingPeer(cleanups, { 'big.bin': 5 * 1024 * 1024, 'a.txt': 'a' })
    const { connection } = await connectClient(cleanups, peer, 'udx')
    const asked: Array<boolean | undefined> = []
    const client = createPeerClient({
      openStream: (options) => {
        asked.push(options?.bulk)
        return connection.openStream(options)
      },
      remoteVersion: connection.remoteVersion,
    })
    let entries = 0
    for await (const _ of client.ls('music')) entries++
    expect(entries).toBeGreaterThan(0)
    const read = await client.read('music/big.bin', {}, { bulk: true })
    const chunks: Uint8Array[] = []
    for await (const chunk of read.body) chunks.push(chunk)
    const expected = readFileSync(join(peer.shareDir, 'big.bin'))
    expect(sha(Buffer.concat(chunks))).toBe(sha(expected))
    expect(asked).toEqual([undefined, true])
    const stats = (connection as Connection).stats()
    expect(stats.bulkLane?.opened).toBe(1)
    // The file's bytes came over the lane, not the connection.
    expect(stats.bytesReceived).toBeLessThan(expected.length)
  })
})
