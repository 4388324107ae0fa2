// What a consumer gets from the registry: the publishable packages, their tarballs, and what
// their READMEs promise (install line, usage example).
import { execFile } from 'node:child_process'
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs'
import { join } from 'node:path'
import { promisify } from 'node:util'

export const run = promisify(execFile)
export const repoRoot = join(import.meta.dirname, '..', '..')

export interface PublishablePackage {
  /** `@harddrive-party/transport` */
  name: string
  /** `transport` */
  short: string
  dir: string
  manifest: Record<string, unknown>
  readme: string
}

/**
 * Every non-private package under packages/ whose entry point exports something. peer-node is a
 * placeholder (`export {}`) until its issue lands; it joins this list by itself on its first export.
 */
export function publishablePackages(): PublishablePackage[] {
  const out: PublishablePackage[] = []
  for (const short of readdirSync(join(repoRoot, 'packages')).sort()) {
    const dir = join(repoRoot, 'packages', short)
    const manifestPath = join(dir, 'package.json')
    if (!existsSync(manifestPath)) continue
    const manifest = JSON.parse(readFileSync(manifestPath, 'utf8')) as Record<string, unknown>
    if (manifest.private === true) continue
    const entry = join(dir, 'src', 'index.ts')
    if (!existsSync(entry) || !/^export\s+(?!\{\s*\})/m.test(readFileSync(entry, 'utf8'))) continue
    out.push({
      name: manifest.name as string,
      short,
      dir,
      manifest,
      readme: readFileSync(join(dir, 'README.md'), 'utf8'),
    })
  }
  return out
}

/** Newest modification time of the files under `dir` (0 when it does not exist). */
function newestMtime(dir: string): number {
  if (!existsSync(dir)) return 0
  let newest = 0
  for (const name of readdirSync(dir, { recursive: true }) as string[]) {
    newest = Math.max(newest, statSync(join(dir, name)).mtimeMs)
  }
  return newest
}

/**
 * Builds the packages whose dist/ is missing or older than their src/ (the root `pnpm test`
 * has built them already; a lone `vitest run` may not have). Turbo builds their siblings first.
 */
export async function ensureBuilt(pkgs: PublishablePackage[]): Promise<void> {
  const stale = pkgs.filter((p) => {
    const built = join(p.dir, 'dist', 'index.js')
    return !existsSync(built) || statSync(built).mtimeMs < newestMtime(join(p.dir, 'src'))
  })
  if (stale.length === 0) return
  const filters = stale.flatMap((p) => ['--filter', p.name])
  await run('pnpm', ['exec', 'turbo', 'run', 'build', ...filters], { cwd: repoRoot })
}

export interface Tarball {
  path: string
  bytes: number
}

/** `pnpm pack` (which applies publishConfig and rewrites `workspace:` ranges) into `dest`. */
export async function pack(pkg: PublishablePackage, dest: string): Promise<Tarball> {
  const { stdout } = await run('pnpm', ['pack', '--pack-destination', dest], { cwd: pkg.dir })
  const path = stdout.trim().split('\n').at(-1)!.trim()
  return { path, bytes: statSync(path).size }
}

/** The packages named on the README's install line (`npm install a b` / `pnpm add a b`). */
export function installLine(readme: string): string[] {
  const m = readme.match(/^(?:npm install|npm i|pnpm add)\s+(.+)$/m)
  return m ? m[1]!.trim().split(/\s+/) : []
}

/** The README's usage example: its first ```ts block. */
export function usageExample(readme: string): string {
  const m = readme.match(/```ts\n([\s\S]*?)```/)
  if (!m) throw new Error('README has no ```ts block')
  return m[1]!
}

/** Bare package names a piece of code imports (`node:` built-ins left out). */
export function importedPackages(code: string): string[] {
  const names = new Set<string>()
  for (const m of code.matchAll(/(?:from|import)\s*\(?\s*'([^']+)'/g)) {
    const spec = m[1]!
    if (spec.startsWith('node:') || spec.startsWith('.')) continue
    const parts = spec.split('/')
    names.add(spec.startsWith('@') ? parts.slice(0, 2).join('/') : parts[0]!)
  }
  return [...names]
}

/** Relative links (`](../../docs/x.md)`), which are dead on the registry's page. */
export function relativeLinks(readme: string): string[] {
  return [...readme.matchAll(/\]\((?!https?:|#|mailto:)([^)]+)\)/g)].map((m) => m[1]!)
}
