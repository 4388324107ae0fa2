import { mkdir, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import type { PeerNode } from '@harddrive-party/peer-node'
import { afterEach, describe, expect, it } from 'vitest'
import { Cleanup, connectedTo, loopbackOptions, useMosquitto, waitUntil } from './helpers'

const broker = useMosquitto()
const cleanup = new Cleanup()
afterEach(() => cleanup.run())

const hexOf = (node: PeerNode) => Buffer.from(node.publicKey).toString('hex')

async function collect<T>(source: AsyncIterable<T>): Promise<T[]> {
  const out: T[] = []
  for await (const item of source) out.push(item)
  return out
}

describe('three peers in one process serve their shares to each other', () => {
  it('each browses and searches the other two over the connection createPeerNode made', async () => {
    const nodes: PeerNode[] = []
    const shareNames: string[] = []
    for (let i = 0; i < 3; i++) {
      const dir = await cleanup.dir()
      const share = join(dir, `share${i}`)
      await mkdir(join(share, 'albums'), { recursive: true })
      await writeFile(join(share, 'albums', `song-of-peer-${i}.flac`), `peer ${i} sings`)
      const node = cleanup.node(loopbackOptions(join(dir, 'storage'), broker.url))
      await node.start()
      await node.store.shares.add(share)
      await node.store.rescan()
      nodes.push(node)
      shareNames.push(`share${i}`)
    }
    for (const n of nodes) await n.join('browse each other')
    await waitUntil('every pair connected', () => nodes.every((n) => connectedTo(n).length === 2))

    for (const [i, node] of nodes.entries()) {
      for (const [j, other] of nodes.entries()) {
        if (i === j) continue
        const client = node.client(hexOf(other))
        const root = await collect(client.ls(''))
        expect(root.map((e) => e.path)).toEqual([shareNames[j]])
        const hits = await collect(client.search('song-of-peer'))
        expect(hits.map((e) => e.path)).toEqual([`share${j}/albums/song-of-peer-${j}.flac`])
        const read = await client.read(hits[0]!.path, { offset: 0 })
        const parts: Buffer[] = []
        for await (const chunk of read.body) parts.push(Buffer.from(chunk))
        expect(Buffer.concat(parts).toString()).toBe(`peer ${j} sings`)
      }
    }
    const stranger = '00'.repeat(32)
    expect(() => nodes[0]!.client(stranger)).toThrow(
      expect.objectContaining({ code: 'NOT_CONNECTED' }),
    )
  }, 60_000)
})
