import { readFile, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import type { ApiEvent, ApiLimits } from '@harddrive-party/wire-protocol'
import { afterAll, describe, expect, it } from 'vitest'
import { bearer, raw, useApiPair } from './api-helpers'
import { Cleanup, loopbackOptions, waitUntil } from './helpers'

const ctx = useApiPair()
const MIB = 1024 * 1024
type Transfer = Extract<ApiEvent, { type: 'transfer' }>

describe('uploads: a peer downloading from us, seen through the control API', () => {
  it('queued for a slot, active with progress (≤ 4/s), done, and cancelled while queued or mid-file', async () => {
    const { client, alice, bob, bobShare } = ctx.pair
    await writeFile(join(bobShare, 'own', 'movie.mp4'), Buffer.alloc(MIB, 3))
    const share = await bob.store.shares.add(bobShare)
    await bob.store.rescan()
    const path = `${share.name}/own/movie.mp4`
    const aliceHex = Buffer.from(alice.publicKey).toString('hex')
    // One slot and 512 KiB/s: the file takes ~2 s, a second read waits for the slot.
    const limits = await client.call('set-limits', {
      uploadSlots: 1,
      uploadBytesPerSecond: 512 * 1024,
    })
    expect(limits.serving).toMatchObject({
      uploadSlots: 1,
      maxActiveReadsPerPeer: 1,
      uploadBytesPerSecond: 512 * 1024,
    })
    const controller = new AbortController()
    const events = collect(client.events({ signal: controller.signal }))
    await new Promise((r) => setTimeout(r, 200))
    const uploads = () =>
      events.list.filter((e): e is Transfer => e.type === 'transfer' && e.direction === 'upload')

    const reader = alice.client(Buffer.from(bob.publicKey).toString('hex'))
    const first = reader.read(path).then((r) => drain(r.body))
    await waitUntil('the first upload is active', () => uploads().some((e) => e.state === 'active'))
    const firstId = (uploads().find((e) => e.state === 'active') as Transfer).requestId
    const queuedRead = new AbortController()
    const second = reader
      .read(path, {}, { signal: queuedRead.signal })
      .then((r) => drain(r.body))
      .catch((err: unknown) => err)
    await waitUntil('the second upload waits for the slot', () =>
      uploads().some((e) => e.state === 'queued' && e.queuePosition === 1),
    )
    const secondId = (uploads().find((e) => e.state === 'queued') as Transfer).requestId

    const listed = (await client.call('uploads')).uploads
    expect(listed.map((u) => [u.id, u.state])).toEqual([
      [secondId, 'queued'],
      [firstId, 'active'],
    ])
    expect(listed[0]).toMatchObject({
      peer: aliceHex,
      peerName: alice.name,
      path,
      size: MIB,
      offset: 0,
      length: MIB,
      bytes: 0,
      queuePosition: 1,
    })
    expect(listed[1]?.bytes).toBeGreaterThan(0)

    // The reader gives up while queued: cancelled, and the slot's holder goes on.
    queuedRead.abort()
    await second
    await waitUntil('the queued upload is cancelled', () =>
      uploads().some((e) => e.requestId === secondId && e.state === 'cancelled'),
    )
    expect(await first).toBe(MIB)
    await waitUntil('the first upload is done', () =>
      uploads().some((e) => e.requestId === firstId && e.state === 'done'),
    )
    const mine = uploads().filter((e) => e.requestId === firstId)
    const done = mine.at(-1) as Transfer
    expect(done).toMatchObject({ bytes: MIB, total: MIB, peer: aliceHex, peerName: alice.name })
    // ~512 KiB/s (the first 64 KiB go out as the bucket's burst).
    expect(done.bytesPerSecond).toBeGreaterThan(400 * 1024)
    expect(done.bytesPerSecond).toBeLessThan(800 * 1024)
    // Progress is throttled: ~2 s of sending gives at most ~4 events a second, plus the
    // state changes (active at the start, done at the end).
    const progress = mine.filter((e) => e.state === 'active')
    expect(progress.length).toBeGreaterThanOrEqual(3)
    expect(progress.length).toBeLessThanOrEqual(4 * 3 + 2)
    console.log(
      `1 MiB upload at 512 KiB/s: ${progress.length} active events, ${mine.length} in all; done at ${(done.bytesPerSecond / 1024).toFixed(0)} KiB/s`,
    )
    const bytesSeen = progress.map((e) => e.bytes)
    expect(bytesSeen).toEqual([...bytesSeen].sort((a, b) => a - b))

    // Cancelled mid-file: the reader stops after its first chunk.
    const midRead = new AbortController()
    const third = await reader.read(path, {}, { signal: midRead.signal })
    for await (const _chunk of third.body) {
      midRead.abort()
      break
    }
    await waitUntil('the mid-file upload is cancelled', () =>
      uploads().some((e) => e.state === 'cancelled' && e.bytes > 0),
    )
    const after = (await client.call('uploads')).uploads
    expect(after[0]).toMatchObject({ state: 'cancelled', error: 'the reader closed the stream' })
    expect(after[0]?.bytes).toBeGreaterThan(0)
    expect(after[0]?.bytes).toBeLessThan(MIB)
    expect(after.map((u) => u.state)).toEqual(['cancelled', 'done', 'cancelled'])
    controller.abort()
    await client.call('set-limits', { uploadSlots: 3, uploadBytesPerSecond: 0 })
  }, 30_000)

  it("a downloader's zero-byte check at the end of a file is not listed; an empty file's read is", async () => {
    const { client, alice, bob, bobShare } = ctx.pair
    await writeFile(join(bobShare, 'own', 'checked.bin'), Buffer.alloc(64 * 1024, 5))
    await writeFile(join(bobShare, 'own', 'empty.txt'), '')
    const share = bob.store.shares.list().find((s) => s.root === bobShare)
    if (share === undefined) throw new Error('the first test shares bobShare')
    await bob.store.rescan()
    const reader = alice.client(Buffer.from(bob.publicKey).toString('hex'))
    const before = (await client.call('uploads')).uploads.length
    const check = await reader.read(`${share.name}/own/checked.bin`, {
      offset: 64 * 1024,
      length: 0,
    })
    expect(await drain(check.body)).toBe(0)
    const empty = await reader.read(`${share.name}/own/empty.txt`)
    expect(await drain(empty.body)).toBe(0)
    await waitUntil('the empty file is listed', () =>
      bob.uploads().some((u) => u.path.endsWith('empty.txt')),
    )
    const after = (await client.call('uploads')).uploads
    expect(after).toHaveLength(before + 1)
    expect(after.some((u) => u.path.endsWith('checked.bin'))).toBe(false)
  })

  it('set-limits: bad input is a 400 with a typed error and changes nothing', async () => {
    const { server, client } = ctx.pair
    const before = await client.call('limits')
    const bad: Array<[string, string]> = [
      ['{}', 'no limit'],
      ['{"uploadSlots": 0}', 'zero slots'],
      ['{"uploadSlots": 65}', 'over 64 slots'],
      ['{"uploadSlots": 1.5}', 'a fraction'],
      ['{"uploadSlots": "2"}', 'a string'],
      ['{"uploadBytesPerSecond": -1}', 'a negative rate'],
      ['{"downloadBytesPerSecond": 1099511627777}', 'a rate over 2^40'],
      ['{"uploadslots": 2}', 'an unknown key'],
      ['{"uploadSlots": 2, "maxWatchesPerPeer": 9}', 'a limit that cannot be set'],
      ['[1]', 'not an object'],
      ['{"uploadSlots": 2', 'broken JSON'],
    ]
    const answers: string[] = []
    for (const [body, what] of bad) {
      const res = await raw(server, '/api/set-limits', {
        method: 'POST',
        headers: { ...bearer(server), 'content-type': 'application/json' },
        body,
      })
      const got = (await res.json()) as { error: { code: string; message: string } }
      expect(res.status, what).toBe(400)
      expect(got.error.code, what).toBe('BAD_REQUEST')
      answers.push(`${what}: ${got.error.message}`)
    }
    console.log(`set-limits bad input answers:\n  ${answers.join('\n  ')}`)
    expect(await client.call('limits')).toEqual(before)
  })

  it('set-limits is applied to downloads too and saved in the storage dir', async () => {
    const { client, bob } = ctx.pair
    const limits: ApiLimits = await client.call('set-limits', {
      downloadBytesPerSecond: 1000,
      downloadBytesPerSecondPerPeer: 500,
    })
    expect(limits.downloads).toEqual({ bytesPerSecond: 1000, bytesPerSecondPerPeer: 500 })
    expect(bob.downloads.status().limits).toMatchObject({
      bytesPerSecond: 1000,
      bytesPerSecondPerPeer: 500,
    })
    const saved = JSON.parse(await readFile(bob.storage.limits, 'utf8'))
    expect(saved).toEqual({
      version: 1,
      uploadSlots: 3,
      uploadBytesPerSecond: 0,
      downloadBytesPerSecond: 1000,
      downloadBytesPerSecondPerPeer: 500,
    })
    await client.call('set-limits', { downloadBytesPerSecond: 0, downloadBytesPerSecondPerPeer: 0 })
  })
})

describe('saved limits across a restart', () => {
  const cleanup = new Cleanup()
  afterAll(() => cleanup.run())

  it('a restarted node applies what setLimits saved; options win for the fields they name; a damaged file is ignored', async () => {
    const dir = await cleanup.dir()
    const options = loopbackOptions(dir, 'mqtt://127.0.0.1:9', { mqtt: false })
    const node = cleanup.node(options)
    await node.start()
    await node.setLimits({ uploadSlots: 5, uploadBytesPerSecondPerPeer: 2000 })
    await node.setLimits({ downloadBytesPerSecond: 3000 })
    await node.stop()
    await node.start()
    expect(node.servingLimits()).toMatchObject({
      uploadSlots: 5,
      maxActiveReadsPerPeer: 4,
      uploadBytesPerSecondPerPeer: 2000,
    })
    expect(node.downloads.status().limits.bytesPerSecond).toBe(3000)
    await node.stop()

    const flagged = cleanup.node({ ...options, serving: { uploadSlots: 2 } })
    await flagged.start()
    expect(flagged.servingLimits()).toMatchObject({
      uploadSlots: 2,
      uploadBytesPerSecondPerPeer: 2000,
    })
    await flagged.stop()

    await writeFile(
      node.storage.limits,
      JSON.stringify({ uploadSlots: -1, uploadBytesPerSecond: 'fast', downloadBytesPerSecond: 7 }),
    )
    await node.start()
    expect(node.servingLimits()).toMatchObject({ uploadSlots: 3, uploadBytesPerSecond: 0 })
    expect(node.downloads.status().limits.bytesPerSecond).toBe(7)
    await expect(node.setLimits({ uploadSlots: 0 })).rejects.toMatchObject({
      code: 'INVALID_OPTIONS',
    })
    await writeFile(node.storage.limits, '{ not json')
    await node.stop()
    await node.start()
    expect(node.servingLimits().uploadSlots).toBe(3)
  })
})

async function drain(body: AsyncIterable<Uint8Array>): Promise<number> {
  let n = 0
  for await (const chunk of body) n += chunk.length
  return n
}

function collect(events: AsyncGenerator<ApiEvent>): { list: ApiEvent[] } {
  const out = { list: [] as ApiEvent[] }
  void (async () => {
    for await (const e of events) out.list.push(e)
  })().catch(() => {})
  return out
}
