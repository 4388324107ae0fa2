import { mkdirSync, mkdtempSync, rmSync, utimesSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { dirname, join } from 'node:path'
import {
  type IndexStore,
  type IndexStoreOptions,
  openIndexStore,
} from '@harddrive-party/index-store'
import type { Entry } from '@harddrive-party/wire-protocol'

/** A temp directory removed by `cleanup()` (chmod'ed back first, so nothing is left behind). */
export function tempDir(prefix = 'hdp-index-store-'): { path: string; cleanup: () => void } {
  const path = mkdtempSync(join(tmpdir(), prefix))
  return { path, cleanup: () => rmSync(path, { recursive: true, force: true }) }
}

/** Writes files: keys are relative paths, values their contents (a number: that many bytes). */
export function makeTree(root: string, files: Record<string, string | number>): void {
  for (const [rel, content] of Object.entries(files)) {
    const p = join(root, rel)
    mkdirSync(dirname(p), { recursive: true })
    writeFileSync(p, typeof content === 'number' ? Buffer.alloc(content, 0x61) : content)
  }
}

/** A fixed moment in the past (2023-11-14), so that ageing a path twice gives the same mtime. */
export const PAST_SECONDS = 1_700_000_000

/** Sets the mtime of `paths` in the past, so that a scan may trust unchanged directories. */
export function agePaths(paths: string[], seconds = PAST_SECONDS): void {
  for (const p of paths) utimesSync(p, seconds, seconds)
}

export async function collect(stream: AsyncIterable<Entry>): Promise<Entry[]> {
  const out: Entry[] = []
  for await (const e of stream) out.push(e)
  return out
}

export async function paths(stream: AsyncIterable<Entry>): Promise<string[]> {
  return (await collect(stream)).map((e) => e.path)
}

/** Opens a store in a fresh temp dir; `close()` stops it and deletes the dir. */
export async function testStore(
  options: Partial<IndexStoreOptions> = {},
): Promise<{ store: IndexStore; dbPath: string; close: () => Promise<void> }> {
  const db = tempDir('hdp-index-db-')
  const store = await openIndexStore({ path: db.path, scanThreads: 0, ...options })
  return {
    store,
    dbPath: db.path,
    close: async () => {
      await store.stop()
      db.cleanup()
    },
  }
}
