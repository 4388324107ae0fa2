import { createHash, randomBytes, timingSafeEqual } from 'node:crypto'
import { chmod, open, readFile } from 'node:fs/promises'
import { PeerNodeError } from '../errors'

const TOKEN_PATTERN = /^[0-9a-f]{64}$/

/**
 * The control API's token: read from `path`, or made (32 random bytes, hex) and written with
 * mode 0600 on first start. A file that holds something else is `BAD_STORAGE`, not replaced:
 * a controller configured with the old token would silently stop working.
 */
export async function loadOrCreateApiToken(path: string): Promise<string> {
  const existing = await readToken(path)
  if (existing !== undefined) return existing
  const token = randomBytes(32).toString('hex')
  try {
    // `wx`: two starts racing cannot both write; the loser reads the winner's token.
    const file = await open(path, 'wx', 0o600)
    try {
      await file.writeFile(`${token}\n`)
      await file.sync()
    } finally {
      await file.close()
    }
    return token
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'EEXIST') {
      const raced = await readToken(path)
      if (raced !== undefined) return raced
    }
    throw new PeerNodeError('BAD_STORAGE', `cannot write the API token ${path}`, { cause: err })
  }
}

async function readToken(path: string): Promise<string | undefined> {
  let text: string
  try {
    text = await readFile(path, 'utf8')
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined
    throw new PeerNodeError('BAD_STORAGE', `cannot read the API token ${path}`, { cause: err })
  }
  const token = text.trim()
  if (!TOKEN_PATTERN.test(token)) {
    throw new PeerNodeError('BAD_STORAGE', `${path} does not hold a 64-hex-digit token`)
  }
  // Someone may have loosened it; the token is as good as a password.
  await chmod(path, 0o600)
  return token
}

/**
 * Constant-time comparison. Both sides are hashed first so that neither the length nor the
 * position of the first difference shows in the timing.
 */
export function tokenMatches(given: string, expected: string): boolean {
  const a = createHash('sha256').update(given).digest()
  const b = createHash('sha256').update(expected).digest()
  return timingSafeEqual(a, b)
}
