import { symlink, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { beforeAll, describe, expect, it } from 'vitest'
import { bearer, rawPath, useApiPair } from './api-helpers'

const ctx = useApiPair()

beforeAll(async () => {
  const { bob, bobShare, cleanup } = ctx.pair
  // A secret outside every share, and a symlink to it inside bob's share.
  const outside = await cleanup.dir()
  await writeFile(join(outside, 'secret.txt'), 'do not serve')
  await symlink(join(outside, 'secret.txt'), join(bobShare, 'own', 'link.txt'))
  await bob.store.shares.add(bobShare)
  await bob.store.rescan()
})

const SIZE = 65_536

describe.each([
  ['our share', 'shares/bobfiles/own/clip.mp4'],
  ["a peer's file, streamed through", 'peer/ALICE/files/video/clip.mp4'],
])('/files ranges: %s', (_what, template) => {
  const path = () => `/files/${template.replace('ALICE', ctx.pair.alice.name)}`
  const get = (range?: string) =>
    rawPath(ctx.pair.server, path(), { ...bearer(ctx.pair.server), ...(range ? { range } : {}) })

  it('whole file, with its MIME type', async () => {
    const res = await get()
    expect(res.status).toBe(200)
    expect(res.headers['content-type']).toBe('video/mp4')
    expect(res.headers['accept-ranges']).toBe('bytes')
    expect(res.headers['content-security-policy']).toBe('sandbox')
    expect(res.body.equals(ctx.pair.clip)).toBe(true)
  })

  it('first byte', async () => {
    const res = await get('bytes=0-0')
    expect(res.status).toBe(206)
    expect(res.headers['content-range']).toBe(`bytes 0-0/${SIZE}`)
    expect(res.body.equals(ctx.pair.clip.subarray(0, 1))).toBe(true)
  })

  it('middle', async () => {
    const res = await get('bytes=1000-1999')
    expect(res.status).toBe(206)
    expect(res.headers['content-range']).toBe(`bytes 1000-1999/${SIZE}`)
    expect(res.body.equals(ctx.pair.clip.subarray(1000, 2000))).toBe(true)
  })

  it('suffix', async () => {
    const res = await get('bytes=-100')
    expect(res.status).toBe(206)
    expect(res.headers['content-range']).toBe(`bytes ${SIZE - 100}-${SIZE - 1}/${SIZE}`)
    expect(res.body.equals(ctx.pair.clip.subarray(SIZE - 100))).toBe(true)
  })

  it('open-ended from the middle', async () => {
    const res = await get('bytes=60000-')
    expect(res.status).toBe(206)
    expect(res.body.equals(ctx.pair.clip.subarray(60000))).toBe(true)
  })

  it('past the end: 416 with the size', async () => {
    const res = await get(`bytes=${SIZE + 10}-`)
    expect(res.status).toBe(416)
    expect(res.headers['content-range']).toBe(`bytes */${SIZE}`)
    expect(JSON.parse(res.body.toString()).error.code).toBe('BAD_RANGE')
  })
})

describe('/files never leaves the shares', () => {
  const attacks = [
    '/files/shares/bobfiles/../../../../etc/passwd',
    '/files/shares/bobfiles/own/%2e%2e/%2e%2e/%2e%2e/etc/passwd',
    '/files/shares/bobfiles%2f..%2f..%2fetc%2fpasswd',
    '/files/shares/bobfiles/own%2fnotes.txt',
    '/files/shares/%2e%2e/x',
    '/files/shares/bobfiles/own/..%5c..%5cx',
    '/files/shares/bobfiles/own/%00',
    '/files/shares/bobfiles/own/%zz',
  ]
  it.each(attacks)('%s -> 400', async (path) => {
    const res = await rawPath(ctx.pair.server, path, bearer(ctx.pair.server))
    expect(res.status).toBe(400)
    expect(JSON.parse(res.body.toString()).error.code).toBe('BAD_REQUEST')
  })

  it('a symlink out of the share is refused', async () => {
    const res = await rawPath(
      ctx.pair.server,
      '/files/shares/bobfiles/own/link.txt',
      bearer(ctx.pair.server),
    )
    console.log(`symlink out of the share -> ${res.status} ${res.body.toString()}`)
    expect([403, 404]).toContain(res.status)
    expect(res.body.toString()).not.toContain('do not serve')
  })

  it('unknown files and roots are 404', async () => {
    for (const path of [
      '/files/shares/bobfiles/none.txt',
      '/files/elsewhere/x',
      '/files/peer/NoSuchPeer/a',
    ]) {
      const res = await rawPath(ctx.pair.server, path, bearer(ctx.pair.server))
      expect(res.status, path).toBe(404)
    }
  })
})
