import { mkdir } from 'node:fs/promises'
import { join, resolve } from 'node:path'
import { type IndexStore, openIndexStore } from '@harddrive-party/index-store'
import { type Identity, loadOrCreateIdentity } from '@harddrive-party/transport'
import type { CreateLogger, Logger } from '@harddrive-party/wire-protocol'
import { PeerNodeError } from '../errors'
import { readJsonFile, writeJsonFile } from './json-file'
import { acquireLock, type StorageLock } from './lock'

/** Where each thing lives inside the storage directory. */
export interface StorageLayout {
  dir: string
  /** `identity.json` (transport's `loadOrCreateIdentity`) lives directly in `dir`. */
  identity: string
  /** The LMDB index (index-store). */
  index: string
  /** Reserved for the control API's token (a later issue). */
  apiToken: string
  /** `{ version, port }`: the UDP/TCP port, kept across restarts. */
  settings: string
  /** Peers we were connected to, with their last addresses. */
  peers: string
  /** Limits set while running (`setLimits`), applied at the next start. */
  limits: string
  lock: string
}

export function storageLayout(dir: string): StorageLayout {
  const root = resolve(dir)
  return {
    dir: root,
    identity: root,
    index: join(root, 'index'),
    apiToken: join(root, 'api-token'),
    settings: join(root, 'node.json'),
    peers: join(root, 'peers.json'),
    limits: join(root, 'limits.json'),
    lock: join(root, 'lock'),
  }
}

export interface Settings {
  /** The transport's port; 0 until the first start bound one. */
  port: number
}

/** An opened storage directory: locked, with its identity and index open. */
export interface Storage {
  readonly layout: StorageLayout
  readonly identity: Identity
  readonly store: IndexStore
  readonly settings: Settings
  savePort(port: number): Promise<void>
  readPeers(): Promise<unknown>
  writePeers(value: unknown): Promise<void>
  /** Closes the index, then releases the lock. Idempotent. */
  close(): Promise<void>
}

/**
 * Locks the directory (`LOCKED` if another node holds it), then loads the identity, the settings
 * and the index. Nothing is opened before the lock is held, so a second opener never touches
 * the database.
 */
export async function openStorage(
  dir: string,
  options: { logger: Logger; indexLogger?: CreateLogger | undefined; signal?: AbortSignal },
): Promise<Storage> {
  const layout = storageLayout(dir)
  await mkdir(layout.dir, { recursive: true, mode: 0o700 }).catch((err: unknown) => {
    throw new PeerNodeError(
      'BAD_STORAGE',
      `cannot create ${layout.dir}: ${(err as Error).message}`,
      {
        cause: err,
      },
    )
  })
  const lock: StorageLock = await acquireLock(layout.lock)
  let store: IndexStore | undefined
  try {
    options.signal?.throwIfAborted()
    const identity = await loadOrCreateIdentity(
      layout.identity,
      options.signal ? { signal: options.signal } : {},
    )
    const settings = await readSettings(layout.settings, options.logger)
    store = await openIndexStore({
      path: layout.index,
      ...(options.indexLogger ? { logger: options.indexLogger } : {}),
    })
    const opened = store
    let closed = false
    return {
      layout,
      identity,
      store: opened,
      settings,
      async savePort(port) {
        if (settings.port === port) return
        settings.port = port
        await writeJsonFile(layout.settings, { version: 1, port })
      },
      readPeers: () => readJsonFile(layout.peers),
      writePeers: (value) => writeJsonFile(layout.peers, value),
      async close() {
        if (closed) return
        closed = true
        try {
          await opened.close()
        } finally {
          await lock.release()
        }
      },
    }
  } catch (err) {
    await store?.close().catch(() => {})
    await lock.release()
    throw err
  }
}

async function readSettings(path: string, log: Logger): Promise<Settings> {
  const value = await readJsonFile(path)
  if (value === undefined) return { port: 0 }
  const port = (value as { port?: unknown } | null)?.port
  if (typeof port === 'number' && Number.isInteger(port) && port >= 0 && port <= 65535) {
    return { port }
  }
  // A damaged settings file costs only the stable port: pick a new one and say so.
  log.error('%s is not valid settings; a new port will be chosen', path)
  return { port: 0 }
}
