import { readFile } from 'node:fs/promises'
import type { ApiEvent } from '@harddrive-party/wire-protocol'
import { describe, expect, it } from 'vitest'
import { useApiPair } from './api-helpers'
import { waitUntil } from './helpers'

const ctx = useApiPair()

describe('control API commands over real HTTP', () => {
  it('info, topics, peers, limits', async () => {
    const { client, bob, alice } = ctx.pair
    const info = await client.call('info')
    expect(info.name).toBe(bob.name)
    expect(info.key).toBe(Buffer.from(bob.publicKey).toString('hex'))
    expect(info.nat.nat).toBe('unknown')
    expect(info.addresses.transport.port).toBe(bob.address().port)
    expect(info.versions.protocol).toBe('1.2')
    expect((await client.call('topics')).topics).toEqual(['api test'])
    const { peers } = await client.call('peers')
    expect(peers).toHaveLength(1)
    expect(peers[0]?.name).toBe(alice.name)
    expect(peers[0]?.connected).toBe(true)
    expect(peers[0]?.connection?.carrier).toMatch(/^(udx|tcp)$/)
    expect(peers[0]?.attempt?.attempts).toBeGreaterThanOrEqual(0)
    const limits = await client.call('limits')
    expect(limits.serving.uploadSlots).toBe(3)
    expect(limits.api.maxBodyBytes).toBe(65_536)
  })

  it('join and leave a topic, with a topics event', async () => {
    const { client } = ctx.pair
    const controller = new AbortController()
    const events = collect(client.events({ signal: controller.signal }))
    await waitUntil('the socket is open', () => ctx.pair.server !== undefined)
    await new Promise((r) => setTimeout(r, 200))
    expect((await client.call('join', { topic: 'second' })).topics.sort()).toEqual([
      'api test',
      'second',
    ])
    expect((await client.call('leave', { topic: 'second' })).topics).toEqual(['api test'])
    await waitUntil(
      'two topics events',
      () => events.list.filter((e) => e.type === 'topics').length >= 2,
    )
    controller.abort()
    const topicsEvents = events.list.filter((e) => e.type === 'topics')
    expect(topicsEvents[0]).toEqual({
      type: 'topics',
      topics: [
        { name: 'api test', joined: true },
        { name: 'second', joined: true },
      ],
    })
  })

  it('ls and search a peer, every peer, and ourselves; paged with a cursor', async () => {
    const { client, alice, bob } = ctx.pair
    const aliceHex = Buffer.from(alice.publicKey).toString('hex')
    const pages = await all(client.ls({ peer: alice.name, path: 'files/music' }))
    expect(pages).toHaveLength(1)
    const first = pages[0]
    if (first?.type !== 'page') throw new Error('expected a page')
    expect(first.peer).toBe(aliceHex)
    expect(first.entries.map((e) => e.path).sort()).toEqual([
      'files/music/a.mp3',
      'files/music/b.txt',
    ])
    const paged = await all(client.ls({ peer: aliceHex, path: '', recursive: true, limit: 2 }))
    const p1 = paged[0]
    if (p1?.type !== 'page' || p1.cursor === undefined)
      throw new Error('expected a page with a cursor')
    expect(p1.entries).toHaveLength(2)
    const next = await all(
      client.ls({ peer: aliceHex, path: '', recursive: true, limit: 10, cursor: p1.cursor }),
    )
    const p2 = next[0]
    if (p2?.type !== 'page') throw new Error('expected a page')
    const seen = [...p1.entries, ...p2.entries].map((e) => e.path)
    expect(new Set(seen).size).toBe(seen.length)
    expect(seen).toContain('files/video/clip.mp4')
    const everyone = await all(client.ls({ path: '', search: 'clip' }))
    expect(everyone).toHaveLength(1)
    expect(everyone[0]?.type === 'page' && everyone[0].entries.map((e) => e.path)).toEqual([
      'files/video/clip.mp4',
    ])
    const self = await all(client.ls({ peer: bob.name, path: '' }))
    expect(self[0]?.type === 'page' && self[0].entries).toEqual([])
  })

  it('shares: add (scan events), list, rescan, remove', async () => {
    const { client, bobShare } = ctx.pair
    const controller = new AbortController()
    const events = collect(client.events({ signal: controller.signal }))
    await new Promise((r) => setTimeout(r, 200))
    const { share } = await client.call('add-share', { dir: bobShare })
    expect(share.root).toBe(bobShare)
    await waitUntil('a finished scan event', () =>
      events.list.some((e) => e.type === 'scan' && e.done && e.share === share.name),
    )
    await waitUntil('a shares event', () =>
      events.list.some((e) => e.type === 'shares' && e.files === 2),
    )
    const listed = await client.call('shares')
    expect(listed.shares.map((s) => s.name)).toEqual([share.name])
    expect(listed.files).toBe(2)
    const rescan = await client.call('rescan')
    expect(rescan.files).toBe(2)
    expect(rescan.shares[0]?.share).toBe(share.name)
    const read = await client.call('read', {
      peer: ctx.pair.bob.name,
      path: `${share.name}/own/notes.txt`,
    })
    expect(Buffer.from(read.data, 'base64').toString()).toBe('bob notes')
    expect((await client.call('remove-share', { name: share.name })).removed).toBe(true)
    expect((await client.call('shares')).shares).toEqual([])
    expect(await readFile(`${bobShare}/own/notes.txt`, 'utf8')).toBe('bob notes')
    controller.abort()
  })

  it('read a peer file (offset, length) and errors with codes', async () => {
    const { client, alice, clip } = ctx.pair
    const read = await client.call('read', {
      peer: alice.name,
      path: 'files/video/clip.mp4',
      offset: 1000,
      length: 100,
    })
    expect(read.size).toBe(clip.length)
    expect(Buffer.from(read.data, 'base64')).toEqual(clip.subarray(1000, 1100))
    await expect(
      client.call('read', { peer: alice.name, path: 'files/nope.txt' }),
    ).rejects.toMatchObject({ code: 'NOT_FOUND' })
    await expect(client.call('read', { peer: 'NoSuchPeer', path: 'a' })).rejects.toMatchObject({
      code: 'NOT_FOUND',
    })
    await expect(client.call('join', { topic: '' })).rejects.toMatchObject({ code: 'BAD_REQUEST' })
    await expect(
      client.call('read', {
        peer: alice.name,
        path: 'files/video/clip.mp4',
        length: 2 * 1024 * 1024,
      }),
    ).rejects.toMatchObject({ code: 'TOO_LARGE' })
  })

  it('the same commands over the WebSocket', async () => {
    const { server } = ctx.pair
    const { WebSocket } = await import('ws')
    const ws = new WebSocket(`${server.url.replace('http', 'ws')}api/events`, {
      headers: { authorization: `Bearer ${server.token}` },
    })
    const messages: Array<{ type: string; id?: number; data?: unknown; code?: string }> = []
    ws.on('message', (d) => messages.push(JSON.parse(String(d))))
    await new Promise((resolve, reject) => ws.once('open', resolve).once('error', reject))
    ws.send(JSON.stringify({ id: 7, command: { type: 'topics' } }))
    ws.send(JSON.stringify({ id: 8, command: { type: 'ls', path: 'files/music' } }))
    ws.send(JSON.stringify({ id: 9, command: { type: 'join', topic: 5 } }))
    await waitUntil(
      'answers',
      () => messages.filter((m) => m.type === 'end' || m.type === 'error').length >= 3,
    )
    expect(messages).toContainEqual({ type: 'result', id: 7, data: { topics: ['api test'] } })
    expect(messages.some((m) => m.id === 8 && m.type === 'result')).toBe(true)
    expect(messages).toContainEqual(
      expect.objectContaining({ type: 'error', id: 9, code: 'BAD_REQUEST' }),
    )
    ws.close()
  })

  it('peer, nat and discovery events', async () => {
    const { client, alice } = ctx.pair
    const controller = new AbortController()
    const events = collect(client.events({ signal: controller.signal }))
    await new Promise((r) => setTimeout(r, 200))
    await alice.stop()
    await waitUntil('a disconnected event', () =>
      events.list.some((e) => e.type === 'peer' && e.state === 'disconnected'),
    )
    await alice.start()
    await waitUntil('a connected event', () =>
      events.list.some(
        (e) => e.type === 'peer' && e.state === 'connected' && e.name === alice.name,
      ),
    )
    // A NAT report and a discovery status are dispatched the way the node does on a change.
    ctx.pair.bob.dispatchEvent(new CustomEvent('nat', { detail: ctx.pair.bob.nat }))
    ctx.pair.bob.dispatchEvent(
      new CustomEvent('discovery:status', {
        detail: { via: 'mqtt', state: 'offline', message: 'test' },
      }),
    )
    await waitUntil(
      'nat and discovery events',
      () =>
        events.list.some((e) => e.type === 'nat') &&
        events.list.some((e) => e.type === 'discovery'),
    )
    controller.abort()
    expect(events.list.find((e) => e.type === 'discovery')).toEqual({
      type: 'discovery',
      via: 'mqtt',
      state: 'offline',
      message: 'test',
    })
  })
})

function collect(events: AsyncGenerator<ApiEvent>): { list: ApiEvent[] } {
  const out = { list: [] as ApiEvent[] }
  void (async () => {
    for await (const e of events) out.list.push(e)
  })().catch(() => {})
  return out
}

async function all<T>(gen: AsyncGenerator<T>): Promise<T[]> {
  const out: T[] = []
  for await (const x of gen) out.push(x)
  return out
}
