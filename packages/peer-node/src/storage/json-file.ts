import { randomBytes } from 'node:crypto'
import { open, readFile, rename, unlink } from 'node:fs/promises'

/** Largest file read back: everything here is small, and disk bytes are hostile too. */
const MAX_FILE_BYTES = 1024 * 1024

/** Parsed JSON of a file, `undefined` when it is missing, `null` when it is not valid JSON. */
export async function readJsonFile(path: string): Promise<unknown> {
  let text: string
  try {
    const handle = await open(path, 'r')
    try {
      const { size } = await handle.stat()
      if (size > MAX_FILE_BYTES) return null
      text = await readFile(handle, 'utf8')
    } finally {
      await handle.close()
    }
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined
    throw err
  }
  try {
    return JSON.parse(text) as unknown
  } catch {
    return null
  }
}

/** Writes JSON under a temporary name, fsyncs, then renames into place: never half a file. */
export async function writeJsonFile(path: string, value: unknown): Promise<void> {
  const temp = `${path}.${randomBytes(6).toString('hex')}.tmp`
  const handle = await open(temp, 'w', 0o600)
  try {
    await handle.writeFile(`${JSON.stringify(value, null, 2)}\n`)
    await handle.sync()
  } finally {
    await handle.close()
  }
  try {
    await rename(temp, path)
  } catch (err) {
    await unlink(temp).catch(() => {})
    throw err
  }
}
