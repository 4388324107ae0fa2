import { execFile } from 'node:child_process'
import { chmodSync, mkdirSync } from 'node:fs'
import { join } from 'node:path'
import { promisify } from 'node:util'
import { afterEach, describe, expect, it } from 'vitest'
import { makeTree, tempDir } from './helpers'

const run = promisify(execFile)
const cleanups: (() => unknown)[] = []
afterEach(() => {
  for (const c of cleanups.splice(0).reverse()) c()
})

const child = join(import.meta.dirname, 'fixtures', 'scan-child.ts')

/**
 * chmod 000 stops nobody who has CAP_DAC_OVERRIDE / CAP_DAC_READ_SEARCH, and root has both.
 * So as root the scan runs in a child process that keeps uid 0 (it can still use the root-owned
 * temp database) but has both capabilities dropped from its bounding set with setpriv: then
 * the kernel checks mode bits for it like for anyone else, and the locked directory really
 * refuses readdir with EACCES. The child proves it by reading the directory itself first.
 */
function command(args: string[]): [string, string[]] {
  const node = [
    process.execPath,
    '--import',
    'tsx',
    '--conditions=@harddrive-party/source',
    child,
    ...args,
  ]
  if (process.getuid?.() !== 0) return [node[0] as string, node.slice(1)]
  return ['setpriv', ['--bounding-set', '-dac_override,-dac_read_search', '--', ...node]]
}

describe('unreadable directories', () => {
  for (const threads of [0, 2]) {
    it(`are logged and skipped without aborting the scan (${threads} scan threads)`, async () => {
      const db = tempDir('hdp-index-db-')
      const share = tempDir('hdp-share-')
      cleanups.push(db.cleanup, share.cleanup)
      makeTree(share.path, {
        'before.txt': 1,
        'locked/hidden.txt': 2,
        'no-search/inside.txt': 3,
        'no-perm.txt': 4,
        'z-after/ok.txt': 5,
      })
      mkdirSync(join(share.path, 'locked', 'deeper'))
      const locked = join(share.path, 'locked')
      chmodSync(locked, 0o000)
      // Readable but not searchable: readdir works, stat of each entry fails.
      chmodSync(join(share.path, 'no-search'), 0o600)
      chmodSync(join(share.path, 'no-perm.txt'), 0o000)
      cleanups.push(() => {
        chmodSync(locked, 0o755)
        chmodSync(join(share.path, 'no-search'), 0o755)
      })
      const [cmd, args] = command([db.path, share.path, locked, String(threads)])
      const { stdout } = await run(cmd, args, {
        cwd: join(import.meta.dirname, '..'),
        timeout: 60_000,
      })
      const out = JSON.parse(stdout.trim().split('\n').at(-1) as string)
      expect(out.lockedReadable).toBe(false)
      const n = out.share
      expect(out.entries.map((e: { path: string }) => e.path)).toEqual([
        `${n}/before.txt`,
        `${n}/no-perm.txt`,
        `${n}/no-search`,
        `${n}/z-after`,
        `${n}/z-after/ok.txt`,
      ])
      // locked (readdir EACCES) and no-search/inside.txt (lstat EACCES) are the skipped ones.
      expect(out.summary.shares[0]).toMatchObject({ files: 3, bytes: 10, skipped: 2 })
      // Indexed (its metadata is readable) but not servable: opening it fails with a typed error.
      expect(out.openErrors[`${n}/no-perm.txt`]).toBe('UNREADABLE')
    })
  }
})
