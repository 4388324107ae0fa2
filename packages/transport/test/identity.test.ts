import { createPrivateKey, createPublicKey, sign, verify } from 'node:crypto'
import { chmod, mkdtemp, readFile, rm, stat, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import { createIdentity, IDENTITY_FILE, loadOrCreateIdentity } from '../src/index'

let dir: string
beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'hdp-identity-'))
})
afterEach(async () => {
  await rm(dir, { recursive: true, force: true })
})

describe('identity', () => {
  it('is created once (mode 0600) and loaded unchanged afterwards', async () => {
    const first = await loadOrCreateIdentity(join(dir, 'storage'))
    const again = await loadOrCreateIdentity(join(dir, 'storage'))
    expect(first.publicKey).toHaveLength(32)
    expect(first.secretKey).toHaveLength(64)
    expect(Buffer.from(again.secretKey)).toEqual(Buffer.from(first.secretKey))
    const info = await stat(join(dir, 'storage', IDENTITY_FILE))
    expect(info.mode & 0o777).toBe(0o600)
  })

  it('is a libsodium-layout ed25519 pair: seed ‖ public key, signing with the seed verifies', async () => {
    const id = await loadOrCreateIdentity(dir)
    expect(Buffer.from(id.secretKey.subarray(32))).toEqual(Buffer.from(id.publicKey))
    // Sign with the seed alone (as wire-protocol's sealAnnouncement does), verify with the id.
    const seed = Buffer.from(id.secretKey.subarray(0, 32))
    const privateKey = createPrivateKey({
      key: Buffer.concat([Buffer.from('302e020100300506032b657004220420', 'hex'), seed]),
      format: 'der',
      type: 'pkcs8',
    })
    const publicKey = createPublicKey({
      key: { kty: 'OKP', crv: 'Ed25519', x: Buffer.from(id.publicKey).toString('base64url') },
      format: 'jwk',
    })
    const message = new TextEncoder().encode('announce')
    expect(verify(null, message, publicKey, sign(null, message, privateKey))).toBe(true)
  })

  it('gives every concurrent creator the same key (no lost write)', async () => {
    const all = await Promise.all(Array.from({ length: 8 }, () => loadOrCreateIdentity(dir)))
    const keys = new Set(all.map((id) => Buffer.from(id.publicKey).toString('hex')))
    expect(keys.size).toBe(1)
    const stored = await loadOrCreateIdentity(dir)
    expect(keys.has(Buffer.from(stored.publicKey).toString('hex'))).toBe(true)
  })

  it('refuses a corrupt or mismatched file with BAD_IDENTITY and leaves it in place', async () => {
    const file = join(dir, IDENTITY_FILE)
    await writeFile(file, 'not json', { mode: 0o600 })
    await expect(loadOrCreateIdentity(dir)).rejects.toMatchObject({ code: 'BAD_IDENTITY' })
    expect(await readFile(file, 'utf8')).toBe('not json')

    const a = createIdentity()
    const b = createIdentity()
    const mixed = {
      format: 'harddrive-party/ed25519',
      publicKey: Buffer.from(b.publicKey).toString('hex'),
      secretKey: Buffer.from(a.secretKey).toString('hex'),
    }
    await writeFile(file, JSON.stringify(mixed))
    await expect(loadOrCreateIdentity(dir)).rejects.toMatchObject({ code: 'BAD_IDENTITY' })
  })

  it('tightens a key file that others can read', async () => {
    const created = await loadOrCreateIdentity(dir)
    const file = join(dir, IDENTITY_FILE)
    await chmod(file, 0o644)
    const loaded = await loadOrCreateIdentity(dir)
    expect(Buffer.from(loaded.publicKey)).toEqual(Buffer.from(created.publicKey))
    expect((await stat(file)).mode & 0o777).toBe(0o600)
  })

  it('honours an aborted signal', async () => {
    await expect(loadOrCreateIdentity(dir, { signal: AbortSignal.abort() })).rejects.toMatchObject({
      name: 'AbortError',
    })
  })
})
