import { execFileSync } from 'node:child_process'
import { existsSync, readdirSync, statSync } from 'node:fs'
import { join } from 'node:path'

const root = join(import.meta.dirname, '../../..')
const built = join(root, 'apps/cli/dist/cli.js')

/** The newest modification time under `dir` (sources only). */
function newest(dir: string): number {
  let t = 0
  for (const e of readdirSync(dir, { withFileTypes: true })) {
    const p = join(dir, e.name)
    t = Math.max(t, e.isDirectory() ? newest(p) : statSync(p).mtimeMs)
  }
  return t
}

/**
 * The tests run the built command as a person would: build it (and the packages it loads) first
 * when a source is newer than `dist/cli.js`.
 */
export default function setup(): void {
  const sources = [
    'apps/cli/src',
    ...readdirSync(join(root, 'packages')).map((p) => `packages/${p}/src`),
  ]
  const stale =
    !existsSync(built) ||
    sources.some(
      (s) => existsSync(join(root, s)) && newest(join(root, s)) > statSync(built).mtimeMs,
    )
  if (!stale) return
  execFileSync(
    'pnpm',
    [
      'exec',
      'turbo',
      'run',
      'build',
      '--filter=@harddrive-party/cli...',
      '--output-logs=errors-only',
    ],
    { cwd: root, stdio: 'inherit', env: { ...process.env, TURBO_TELEMETRY_DISABLED: '1' } },
  )
}
