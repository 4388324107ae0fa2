import { spawn } from 'node:child_process'
import { renameSync } from 'node:fs'
import { join } from 'node:path'
import { createInterface } from 'node:readline'
import { openIndexStore } from '@harddrive-party/index-store'
import { afterEach, describe, expect, it } from 'vitest'
import { collect, makeTree, tempDir } from './helpers'

const cleanups: (() => unknown)[] = []
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c()
})

const child = join(import.meta.dirname, 'fixtures', 'scan-forever.ts')

describe('index under kill -9 during a scan', () => {
  it('reopens consistent: search agrees with ls, and the next scan completes the index', async () => {
    const db = tempDir('hdp-scan-crash-db-')
    const share = tempDir('hdp-scan-crash-')
    cleanups.push(db.cleanup, share.cleanup)
    const files: Record<string, number> = {}
    for (let i = 0; i < 2000; i++)
      for (let j = 0; j < 1; j++) files[`v1/dir${i}/file${j}.bin`] = j + 1
    makeTree(share.path, files)
    const proc = spawn(
      process.execPath,
      ['--import', 'tsx', '--conditions=@harddrive-party/source', child, db.path, share.path],
      {
        cwd: join(import.meta.dirname, '..'),
        stdio: ['ignore', 'pipe', 'inherit'],
      },
    )
    cleanups.push(() => proc.kill('SIGKILL'))
    const exited = new Promise<NodeJS.Signals | null>((resolve) =>
      proc.on('exit', (_c, s) => resolve(s)),
    )
    let renamed = false
    for await (const line of createInterface({ input: proc.stdout })) {
      // After a first complete scan, rename the top directory so that the next scan rewrites
      // every listing, and kill the process as soon as that scan reports its first progress.
      if (line === 'scanned' && !renamed) {
        renamed = true
        renameSync(join(share.path, 'v1'), join(share.path, 'v2'))
      } else if (renamed && line === 'progress false') {
        process.kill(proc.pid as number, 'SIGKILL')
        break
      }
    }
    expect(await exited).toBe('SIGKILL')
    const logged: string[] = []
    const logger = () =>
      Object.assign(
        (f: string) => {
          logged.push(f)
        },
        { error: () => {}, trace: () => {} },
      )
    const store = await openIndexStore({ path: db.path, scanThreads: 0, logger })
    // Killed mid-scan: the search names (a second LMDB file) were rebuilt from the listings.
    expect(logged.some((l) => l.startsWith('rebuilt the search names'))).toBe(true)
    try {
      const name = store.shares.list()[0]?.name as string
      const listed = await collect(store.ls(name, { recursive: true }))
      const listedPaths = new Set(listed.map((e) => e.path))
      // Every file search finds is one ls shows, and every file ls shows is found by search.
      const found = await collect(store.search('file'))
      expect(new Set(found.map((e) => e.path))).toEqual(
        new Set(listed.filter((e) => e.path.includes('/file')).map((e) => e.path)),
      )
      for (const e of found) expect(listedPaths.has(e.path)).toBe(true)
      const summary = await store.rescan()
      expect(summary.shares[0]).toMatchObject({ files: 2000, bytes: 2000 })
      const after = await collect(store.search('file'))
      expect(after).toHaveLength(2000)
      expect(after.every((e) => e.path.startsWith(`${name}/v2/`))).toBe(true)
    } finally {
      await store.close()
    }
  }, 60_000)
})
