import { createPrivateKey, createPublicKey, randomBytes } from 'node:crypto'
import { chmod, link, mkdir, open, readFile, stat, unlink } from 'node:fs/promises'
import { join } from 'node:path'
import type { Identity } from '@harddrive-party/wire-protocol'
import { TransportError } from './errors'

// The key pair type is wire-protocol's (one home for shared types); re-exported for our modules.
export type { Identity }

/** File name of the identity inside the storage directory. */
export const IDENTITY_FILE = 'identity.json'
const FORMAT = 'harddrive-party/ed25519'
// DER prefix of a PKCS#8 ed25519 private key; the 32-byte seed follows it.
const PKCS8_ED25519_PREFIX = Buffer.from('302e020100300506032b657004220420', 'hex')

/** Makes a fresh identity in memory (nothing is stored). */
export function createIdentity(seed: Uint8Array = randomBytes(32)): Identity {
  if (seed.length !== 32) throw new TypeError('an ed25519 seed is 32 bytes')
  const publicKey = publicKeyFromSeed(seed)
  const secretKey = new Uint8Array(64)
  secretKey.set(seed, 0)
  secretKey.set(publicKey, 32)
  return { publicKey, secretKey }
}

/**
 * Reads `<dir>/identity.json`, or creates it (mode 0600) when it does not exist. Creation is
 * atomic and safe against a second process doing the same at once: the file is written under
 * a temporary name and hard-linked into place, so whoever links first wins and the other reads
 * the winner's key. A file that exists but does not hold a valid key pair is never replaced:
 * it throws `BAD_IDENTITY`, since a peer's id must not change behind its owner's back.
 */
export async function loadOrCreateIdentity(
  dir: string,
  options: { signal?: AbortSignal } = {},
): Promise<Identity> {
  options.signal?.throwIfAborted()
  const file = join(dir, IDENTITY_FILE)
  const existing = await readIdentity(file)
  if (existing !== undefined) return existing
  await mkdir(dir, { recursive: true, mode: 0o700 })
  options.signal?.throwIfAborted()
  const identity = createIdentity()
  const tmp = join(dir, `.${IDENTITY_FILE}.${randomBytes(6).toString('hex')}.tmp`)
  const handle = await open(tmp, 'wx', 0o600)
  try {
    await handle.writeFile(encodeIdentity(identity))
    await handle.sync()
  } finally {
    await handle.close()
  }
  try {
    await link(tmp, file)
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err
    const winner = await readIdentity(file)
    if (winner === undefined) throw err
    return winner
  } finally {
    await unlink(tmp).catch(() => {})
  }
  await syncDir(dir)
  return identity
}

async function readIdentity(file: string): Promise<Identity | undefined> {
  let text: string
  try {
    text = await readFile(file, 'utf8')
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined
    throw err
  }
  const identity = decodeIdentity(text, file)
  // A secret readable by others is tightened rather than refused: the key is still ours.
  const mode = (await stat(file)).mode & 0o777
  if ((mode & 0o077) !== 0) await chmod(file, 0o600)
  return identity
}

function encodeIdentity(identity: Identity): string {
  const body = {
    format: FORMAT,
    publicKey: Buffer.from(identity.publicKey).toString('hex'),
    secretKey: Buffer.from(identity.secretKey).toString('hex'),
  }
  return `${JSON.stringify(body, null, 2)}\n`
}

function decodeIdentity(text: string, file: string): Identity {
  let body: unknown
  try {
    body = JSON.parse(text)
  } catch (cause) {
    throw new TransportError('BAD_IDENTITY', `${file} is not JSON`, { cause })
  }
  const fields = body as { format?: unknown; publicKey?: unknown; secretKey?: unknown }
  if (typeof body !== 'object' || body === null || fields.format !== FORMAT) {
    throw new TransportError('BAD_IDENTITY', `${file} is not a ${FORMAT} key file`)
  }
  const publicKey = hexBytes(fields.publicKey, 32)
  const secretKey = hexBytes(fields.secretKey, 64)
  if (publicKey === undefined || secretKey === undefined) {
    throw new TransportError('BAD_IDENTITY', `${file} has malformed keys`)
  }
  const derived = publicKeyFromSeed(secretKey.subarray(0, 32))
  if (
    !Buffer.from(derived).equals(publicKey) ||
    !Buffer.from(secretKey.subarray(32)).equals(publicKey)
  ) {
    throw new TransportError('BAD_IDENTITY', `${file}: public key does not match the secret key`)
  }
  return { publicKey, secretKey }
}

function hexBytes(value: unknown, length: number): Uint8Array | undefined {
  if (typeof value !== 'string' || !/^[0-9a-f]*$/.test(value) || value.length !== length * 2) {
    return undefined
  }
  return new Uint8Array(Buffer.from(value, 'hex'))
}

function publicKeyFromSeed(seed: Uint8Array): Uint8Array {
  const privateKey = createPrivateKey({
    key: Buffer.concat([PKCS8_ED25519_PREFIX, seed]),
    format: 'der',
    type: 'pkcs8',
  })
  const jwk = createPublicKey(privateKey).export({ format: 'jwk' })
  return new Uint8Array(Buffer.from(jwk.x as string, 'base64url'))
}

async function syncDir(dir: string): Promise<void> {
  // Makes the rename/link durable; not every file system allows fsync on a directory.
  const handle = await open(dir, 'r').catch(() => undefined)
  if (handle === undefined) return
  await handle.sync().catch(() => {})
  await handle.close()
}
