import { mkdirSync, rmSync, symlinkSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { isHdpError } from '@harddrive-party/wire-protocol'
import { afterEach, describe, expect, it } from 'vitest'
import { outcomesAfter, rawRequest } from './raw-peer'
import {
  Cleanups,
  collect,
  connectClient,
  patternBytes,
  readBody,
  rejection,
  startServingPeer,
  tempDir,
} from './serving-helpers'

const cleanups = new Cleanups()
afterEach(() => cleanups.run())

const FILES = {
  'Beatles/Abbey Road/01 Come Together.flac': 300_000,
  'Beatles/Abbey Road/02 Something.flac': 1000,
  'Beatles/Help/01 Help.flac': 10,
  'Coltrane/A Love Supreme.flac': 2048,
  'empty.txt': '',
}

describe.each(['tcp', 'udx'] as const)('ls, search and read over %s', (carrier) => {
  it('lists the shares at the root, then folders, recursively and in pages', async () => {
    const peer = await startServingPeer(cleanups, FILES)
    const { client } = await connectClient(cleanups, peer, carrier)

    const root = await collect(client.ls(''))
    expect(root.map((e) => [e.path, e.dir, e.files])).toEqual([['music', true, 5]])

    const top = await collect(client.ls('music'))
    expect(top.map((e) => e.path)).toEqual(['music/Beatles', 'music/Coltrane', 'music/empty.txt'])

    const all = await collect(client.ls('music', { recursive: true }))
    expect(all).toHaveLength(9) // 4 directories, 5 files
    const paged = await collect(client.lsPages('music', { recursive: true, pageSize: 2 }))
    expect(paged.map((p) => p.entries.length)).toEqual([2, 2, 2, 2, 1])
    expect(paged.flatMap((p) => p.entries)).toEqual(all)
    // A cursor from a page continues right after it (a folder download resumes this way).
    const rest = await collect(
      client.ls('music', { recursive: true, cursor: paged[1]?.cursor as Uint8Array }),
    )
    expect(rest).toEqual(all.slice(4))
  })

  it('searches names below a path', async () => {
    const peer = await startServingPeer(cleanups, FILES)
    const { client } = await connectClient(cleanups, peer, carrier)
    const hits = await collect(client.search('come together'))
    expect(hits.map((e) => e.path)).toEqual(['music/Beatles/Abbey Road/01 Come Together.flac'])
    const help = await collect(client.search('flac', { path: 'music/Beatles/Help' }))
    expect(help.map((e) => e.path)).toEqual(['music/Beatles/Help/01 Help.flac'])
    const paged = await collect(client.searchPages('flac', { pageSize: 3 }))
    expect(paged.map((p) => p.entries.length)).toEqual([3, 1])
  })

  it('reads whole files and ranges, byte-exact', async () => {
    const peer = await startServingPeer(cleanups, FILES)
    const { client } = await connectClient(cleanups, peer, carrier)
    const path = 'music/Beatles/Abbey Road/01 Come Together.flac'
    const whole = await client.read(path)
    expect([whole.offset, whole.length, whole.size]).toEqual([0, 300_000, 300_000])
    expect((await readBody(whole.body)).equals(patternBytes(300_000))).toBe(true)

    const resumed = await client.read(path, {
      offset: 200_000,
      expect: { size: whole.size, mtime: whole.mtime },
    })
    expect(resumed.length).toBe(100_000)
    expect((await readBody(resumed.body)).equals(patternBytes(300_000).subarray(200_000))).toBe(
      true,
    )

    const range = await client.read(path, { offset: 5, length: 10 })
    expect((await readBody(range.body)).equals(patternBytes(300_000).subarray(5, 15))).toBe(true)

    const atEnd = await client.read(path, { offset: 300_000 })
    expect(atEnd.length).toBe(0)
    expect(await readBody(atEnd.body)).toHaveLength(0)
    const empty = await client.read('music/empty.txt')
    expect(empty.size).toBe(0)
    expect(await readBody(empty.body)).toHaveLength(0)
  })
})

describe('typed errors', () => {
  it('answers CHANGED when the file is not what `expect` says, and BAD_REQUEST beyond the end', async () => {
    const peer = await startServingPeer(cleanups, FILES)
    const { client } = await connectClient(cleanups, peer)
    const path = 'music/Beatles/Help/01 Help.flac'
    const first = await client.read(path)
    await readBody(first.body)
    const changed = await rejection(
      client.read(path, { offset: 5, expect: { size: first.size + 1, mtime: first.mtime } }),
    )
    expect([changed.name, changed.code]).toEqual(['PeerNodeError', 'CHANGED'])
    const older = await rejection(
      client.read(path, { offset: 5, expect: { size: first.size, mtime: first.mtime - 1000 } }),
    )
    expect(older.code).toBe('CHANGED')
    expect((await rejection(client.read(path, { offset: 11 }))).code).toBe('BAD_REQUEST')
    expect((await rejection(client.read('music/Beatles'))).code).toBe('BAD_REQUEST')
    expect((await rejection(client.read('music/nope.flac'))).code).toBe('NOT_FOUND')
    expect((await rejection(collect(client.ls('music/nope')))).code).toBe('NOT_FOUND')
  })

  it('refuses hostile paths from the wire, and the connection goes on', async () => {
    const peer = await startServingPeer(cleanups, FILES)
    const { client, connection } = await connectClient(cleanups, peer)
    for (const path of [
      '../etc/passwd',
      '/etc/passwd',
      'music/../../etc',
      'music/a\u0000b',
      'C:x',
    ]) {
      const read = await rawRequest(connection, { type: 'read', path, offset: 0 })
      expect(read[0]).toMatchObject({ type: 'error', code: 'BAD_REQUEST' })
      expect(String(read[0]?.message)).toContain('BAD_PATH')
      const ls = await rawRequest(connection, { type: 'ls', path, recursive: true })
      expect(ls[0]).toMatchObject({ type: 'error', code: 'BAD_REQUEST' })
    }
    const unknown = await rawRequest(connection, { type: 'format-disk' })
    expect(unknown[0]).toMatchObject({ type: 'error', code: 'BAD_REQUEST' })
    const garbage = await rawRequest(connection, new Uint8Array([0xff, 0xff]))
    expect(garbage[0]).toMatchObject({ type: 'error', code: 'BAD_REQUEST' })
    // Our own client refuses them before sending anything.
    const local = await rejection(client.read('../etc/passwd'))
    expect([local.code, isHdpError(local)]).toEqual(['BAD_PATH', true])
    expect((await collect(client.ls(''))).length).toBe(1)
  })

  it('refuses symlinks leading out of the share', async () => {
    const outside = tempDir(cleanups)
    writeFileSync(join(outside, 'secret'), 'top secret')
    const peer = await startServingPeer(cleanups, { ...FILES, 'swap/victim.txt': 'harmless' })
    symlinkSync(join(outside, 'secret'), join(peer.shareDir, 'link-out'))
    mkdirSync(join(peer.shareDir, 'later'))
    await peer.store.rescan()
    const { client } = await connectClient(cleanups, peer)
    // A symlink out of the share is never indexed...
    expect((await rejection(client.read('music/link-out'))).code).toBe('NOT_FOUND')
    // ...and one swapped in after the scan is caught when the file is opened.
    rmSync(join(peer.shareDir, 'swap/victim.txt'))
    symlinkSync(join(outside, 'secret'), join(peer.shareDir, 'swap/victim.txt'))
    const swapped = await rejection(client.read('music/swap/victim.txt'))
    expect(swapped.code).toBe('FORBIDDEN')
    expect(swapped.message).not.toContain('top secret')
  })

  it('serves reads of one chunk in a lane of their own, with the same checks', async () => {
    const outside = tempDir(cleanups)
    writeFileSync(join(outside, 'secret'), 'top secret')
    const peer = await startServingPeer(
      cleanups,
      { 'big.bin': 4 << 20, 'small.bin': 5000, 'swap/victim.txt': 'harmless', 'dir/x': 'x' },
      { limits: { uploadSlots: 1 } },
    )
    const greedy = await connectClient(cleanups, peer)
    // Holds the only upload slot (never reads), and one more read waits behind it.
    const outcomes = await outcomesAfter(
      [greedy.client.read('music/big.bin'), greedy.client.read('music/big.bin')],
      300,
    )
    expect(outcomes.sort()).toEqual(['fulfilled', 'pending'])
    expect(peer.server.stats().uploadSlots).toEqual({ active: 1, waiting: 1 })

    const { client } = await connectClient(cleanups, peer)
    const first = await client.read('music/small.bin', { length: 5000 })
    expect((await readBody(first.body)).equals(patternBytes(5000))).toBe(true)
    const known = { size: first.size, mtime: first.mtime }
    const tail = await client.read('music/small.bin', { offset: 1000, expect: known })
    expect((await readBody(tail.body)).equals(patternBytes(5000).subarray(1000))).toBe(true)
    const wrong = { size: 4 << 20, mtime: first.mtime }
    expect((await rejection(client.read('music/small.bin', { expect: wrong }))).code).toBe(
      'CHANGED',
    )
    // A file swapped for a symlink out of the share, a folder swapped for one, a folder read.
    rmSync(join(peer.shareDir, 'swap/victim.txt'))
    symlinkSync(join(outside, 'secret'), join(peer.shareDir, 'swap/victim.txt'))
    const swapped = await rejection(client.read('music/swap/victim.txt', { length: 100 }))
    expect(swapped.code).toBe('FORBIDDEN')
    expect(swapped.message).not.toContain('top secret')
    rmSync(join(peer.shareDir, 'dir'), { recursive: true })
    writeFileSync(join(outside, 'x'), 'outside x')
    symlinkSync(outside, join(peer.shareDir, 'dir'))
    expect((await rejection(client.read('music/dir/x', { length: 100 }))).code).toBe('FORBIDDEN')
    expect((await rejection(client.read('music/swap', { length: 100 }))).code).toBe('BAD_REQUEST')
    expect(peer.server.stats().smallReadSlots).toEqual({ active: 0, waiting: 0 })
    // All the while the big reads held and waited for the regular slot.
    expect(peer.server.stats().uploadSlots).toEqual({ active: 1, waiting: 1 })
  })

  it('a small read waiting for its lane hears its place only after a while, then is served', async () => {
    const peer = await startServingPeer(
      cleanups,
      { 'burst.bin': 64 * 1024, 'a.bin': 5000, 'b.bin': 3000 },
      // One small-read slot per peer; once burst.bin took the bucket's burst, the rate limit
      // makes a.bin hold the slot for ~2.5 s.
      { limits: { smallReadSlots: 2, uploadBytesPerSecondPerPeer: 2000 } },
    )
    const { client } = await connectClient(cleanups, peer)
    await readBody((await client.read('music/burst.bin', { length: 64 * 1024 })).body)
    const holding = client.read('music/a.bin', { length: 5000 })
    await outcomesAfter([holding], 100)
    const asked = performance.now()
    const heard: number[] = []
    const waiting = client.read(
      'music/b.bin',
      { length: 3000 },
      {
        onProgress: () => heard.push(performance.now() - asked),
      },
    )
    expect((await readBody((await holding).body)).equals(patternBytes(5000))).toBe(true)
    expect((await readBody((await waiting).body)).equals(patternBytes(3000))).toBe(true)
    expect(heard.length).toBeGreaterThan(0)
    expect(Math.min(...heard)).toBeGreaterThanOrEqual(200)
  })

  it('answers BUSY over the per-peer limits while other peers are still served', async () => {
    const peer = await startServingPeer(
      cleanups,
      { 'big.bin': 4 << 20, 'small.txt': 'hi' },
      {
        limits: { uploadSlots: 1, maxRequestsPerPeer: 4, maxWaitingReadsPerPeer: 100 },
      },
    )
    const greedy = await connectClient(cleanups, peer)
    // Never read: the first read holds the slot, three wait, the rest are over the limit.
    const greedyOutcomes = await outcomesAfter(
      Array.from({ length: 10 }, () => greedy.client.read('music/big.bin')),
      500,
    )
    expect(greedyOutcomes.filter((o) => o === 'BUSY')).toHaveLength(6)
    expect(greedyOutcomes.filter((o) => o === 'fulfilled')).toHaveLength(1)
    expect(greedyOutcomes.filter((o) => o === 'pending')).toHaveLength(3)
    const other = await connectClient(cleanups, peer)
    expect((await collect(other.client.ls('music'))).length).toBe(2)

    const waiting = await startServingPeer(
      cleanups,
      { 'big.bin': 4 << 20 },
      {
        limits: { uploadSlots: 1, maxRequestsPerPeer: 50, maxWaitingReadsPerPeer: 2 },
      },
    )
    const queued = await connectClient(cleanups, waiting)
    const queuedOutcomes = await outcomesAfter(
      Array.from({ length: 6 }, () => queued.client.read('music/big.bin')),
      500,
    )
    expect(queuedOutcomes.sort()).toEqual([
      'BUSY',
      'BUSY',
      'BUSY',
      'fulfilled',
      'pending',
      'pending',
    ])
  })
})

describe('share-change notices (watch)', () => {
  it('tells a watching peer within a few seconds when shares are added, rescanned or removed', async () => {
    const peer = await startServingPeer(cleanups, FILES)
    const { client } = await connectClient(cleanups, peer)
    const controller = new AbortController()
    const versions = client.watchShares({ signal: controller.signal })[Symbol.asyncIterator]()
    const first = await versions.next()
    expect(typeof first.value).toBe('number')

    const timed = async (change: () => Promise<unknown>) => {
      const started = performance.now()
      const next = versions.next()
      await change()
      const v = await next
      return { version: v.value as number, ms: performance.now() - started }
    }
    const other = tempDir(cleanups)
    writeFileSync(join(other, 'film.mkv'), 'x')
    const added = await timed(() => peer.store.shares.add(other))
    expect(added.version).not.toBe(first.value)
    // Pushed, not polled: well under the 10 s a loaded machine is given.
    expect(added.ms).toBeLessThan(10_000)
    const root = await collect(client.ls(''))
    expect(root).toHaveLength(2)

    writeFileSync(join(peer.shareDir, 'new.flac'), 'new')
    const rescanned = await timed(() => peer.store.rescan())
    expect(rescanned.version).not.toBe(added.version)
    const shareName = root.find((e) => e.path !== 'music')?.path as string
    const removed = await timed(() => peer.store.shares.remove(shareName))
    expect(removed.version).not.toBe(rescanned.version)
    expect(removed.ms).toBeLessThan(10_000)
    console.log(
      `watch: share added -> notice ${added.ms.toFixed(1)} ms, rescan ${rescanned.ms.toFixed(1)} ms, removed ${removed.ms.toFixed(1)} ms`,
    )
    controller.abort()
    const ended = await rejection(versions.next())
    expect(ended.name).toBe('AbortError')
    // The watch stream is released on the server.
    await new Promise((resolve) => setTimeout(resolve, 100))
    expect(peer.server.stats().requests).toBe(0)
  })
})
