import { randomBytes } from 'node:crypto'
import { readFileSync } from 'node:fs'
import { link, mkdir, readFile, rmdir, stat, unlink, writeFile } from 'node:fs/promises'
import { PeerNodeError } from '../errors'

/**
 * Single-instance lock on a storage directory: a file holding the owner's PID, its process start
 * time and a random token, created atomically (written under a temporary name, then hard-linked
 * into place, so nobody ever reads half a lock). A lock whose process is gone (kill -9, power
 * loss) is stale and is taken over; the start time tells a recycled PID from the real owner.
 *
 * Why not an OS lock: Node has no flock/fcntl, and the native modules that add one would be a
 * second native dependency for one call. An abstract Unix socket would be released by the kernel,
 * but it is Linux-only and scoped to a network namespace. The PID file is what PostgreSQL does.
 */
export interface StorageLock {
  readonly path: string
  /** Removes the lock file if it is still ours. Idempotent. */
  release(): Promise<void>
}

interface LockRecord {
  pid: number
  startTime: string | null
  token: string
  createdAt: number
}

/** A takeover mutex older than this belongs to a process that died mid-takeover. */
const TAKEOVER_STALE_MS = 10_000

export async function acquireLock(path: string): Promise<StorageLock> {
  const record: LockRecord = {
    pid: process.pid,
    startTime: processStartTime(process.pid),
    token: randomBytes(16).toString('hex'),
    createdAt: Date.now(),
  }
  const temp = `${path}.${record.token}.tmp`
  await writeFile(temp, `${JSON.stringify(record)}\n`, { mode: 0o600 })
  try {
    for (let attempt = 0; attempt < 5; attempt++) {
      try {
        await link(temp, path)
        return ownedLock(path, record.token)
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw storageError(path, err)
      }
      const holder = await readRecord(path)
      if (holder !== undefined && isAlive(holder)) {
        throw new PeerNodeError(
          'LOCKED',
          `${path} is held by process ${holder.pid}${holder.pid === process.pid ? ' (this process)' : ''}: one peer-node per storage directory`,
        )
      }
      await removeStale(path, holder)
    }
    throw new PeerNodeError('LOCKED', `${path}: could not take the lock (contended)`)
  } finally {
    await unlink(temp).catch(() => {})
  }
}

function ownedLock(path: string, token: string): StorageLock {
  let released = false
  return {
    path,
    async release() {
      if (released) return
      released = true
      const now = await readRecord(path)
      if (now?.token === token) await unlink(path).catch(() => {})
    },
  }
}

/**
 * Removes a stale lock under a mutex (a directory: mkdir is atomic), after checking again that it
 * is the same stale lock: two processes that both saw it stale must not remove a fresh one.
 */
async function removeStale(path: string, seen: LockRecord | undefined): Promise<void> {
  const mutex = `${path}.takeover`
  try {
    await mkdir(mutex)
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw storageError(path, err)
    const age = await stat(mutex).then(
      (s) => Date.now() - s.mtimeMs,
      () => 0,
    )
    if (age > TAKEOVER_STALE_MS) await rmdir(mutex).catch(() => {})
    else await new Promise((resolve) => setTimeout(resolve, 50))
    return
  }
  try {
    const now = await readRecord(path)
    const same = now === undefined ? seen === undefined : now.token === seen?.token
    if (same && (now === undefined || !isAlive(now))) await unlink(path).catch(() => {})
  } finally {
    await rmdir(mutex).catch(() => {})
  }
}

/** The lock file's record, or undefined when it is missing or unreadable (then it is stale). */
async function readRecord(path: string): Promise<LockRecord | undefined> {
  let text: string
  try {
    // A lock record is ~150 bytes; a larger file is not ours to parse.
    if ((await stat(path)).size > 4096) return undefined
    text = await readFile(path, 'utf8')
  } catch {
    return undefined
  }
  try {
    const value = JSON.parse(text) as Partial<LockRecord>
    if (!Number.isSafeInteger(value.pid) || (value.pid as number) <= 0) return undefined
    if (typeof value.token !== 'string') return undefined
    return {
      pid: value.pid as number,
      startTime: typeof value.startTime === 'string' ? value.startTime : null,
      token: value.token,
      createdAt: Number(value.createdAt) || 0,
    }
  } catch {
    return undefined
  }
}

/** The process exists and (where /proc tells) is the same process that wrote the record. */
function isAlive(record: LockRecord): boolean {
  try {
    process.kill(record.pid, 0)
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'EPERM') return false
  }
  if (record.startTime === null) return true
  const now = processStartTime(record.pid)
  return now === null || now === record.startTime
}

/** Start time of a process in clock ticks since boot (Linux /proc), or null where unknown. */
function processStartTime(pid: number): string | null {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8')
    // Fields after the command name (which may hold spaces), "state" is field 3; starttime is 22.
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ')
    return fields[19] ?? null
  } catch {
    return null
  }
}

function storageError(path: string, err: unknown): PeerNodeError {
  return new PeerNodeError('BAD_STORAGE', `${path}: ${(err as Error).message}`, { cause: err })
}
