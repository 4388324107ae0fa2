// A fresh project outside the repository that installs the tarballs as a consumer would, and the
// checks run there: each README example as JavaScript, each example type-checked as strict
// TypeScript under NodeNext with skipLibCheck off, publint and attw on each tarball.
import { mkdirSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { checkPackage, createPackageFromTarballData } from '@arethetypeswrong/core'
import { transform } from 'esbuild'
import { publint } from 'publint'
import { formatMessage } from 'publint/utils'
import { type PublishablePackage, repoRoot, run, type Tarball } from './packages'

export type Installer = 'npm' | 'pnpm'

// @types/node as the repository pins it, so the examples type-check against the Node we support.
const typesNode = JSON.parse(readFileSync(join(repoRoot, 'package.json'), 'utf8')).devDependencies[
  '@types/node'
] as string

/** Installs every tarball into one new project (a package depending on a sibling gets the tarball too). */
export async function installProject(
  installer: Installer,
  tarballs: Map<string, Tarball>,
): Promise<string> {
  const dir = mkdtempSync(join(tmpdir(), `hdp-consumer-${installer}-`))
  const deps = Object.fromEntries([...tarballs].map(([name, t]) => [name, `file:${t.path}`]))
  const manifest = {
    name: 'hdp-consumer',
    private: true,
    type: 'module',
    dependencies: { ...deps, '@types/node': typesNode },
    // The packed `^0.1.0` ranges on siblings must resolve to these tarballs, not the registry.
    overrides: deps,
    pnpm: { overrides: deps },
  }
  writeFileSync(join(dir, 'package.json'), JSON.stringify(manifest, null, 2))
  writeFileSync(
    join(dir, 'tsconfig.json'),
    JSON.stringify({
      compilerOptions: {
        strict: true,
        module: 'NodeNext',
        moduleResolution: 'NodeNext',
        target: 'ES2022',
        skipLibCheck: false,
        noEmit: true,
        types: ['node'],
      },
      include: ['examples/*.ts'],
    }),
  )
  const args =
    installer === 'npm'
      ? ['install', '--no-audit', '--no-fund', '--prefer-offline', '--loglevel=error']
      : ['install', '--prefer-offline', '--reporter=silent', '--config.confirmModulesPurge=false']
  await run(installer, args, { cwd: dir, timeout: 90_000, maxBuffer: 16 << 20 })
  return dir
}

export interface RunResult {
  ok: boolean
  output: string
}

/** Writes `examples/<short>.ts` and its JavaScript twin into the project. */
export async function writeExample(project: string, short: string, code: string): Promise<void> {
  mkdirSync(join(project, 'examples'), { recursive: true })
  writeFileSync(join(project, 'examples', `${short}.ts`), code)
  const js = await transform(code, { loader: 'ts', format: 'esm', target: 'node20' })
  writeFileSync(join(project, 'examples', `${short}.mjs`), js.code)
}

/** Runs the JavaScript example with plain node, in `cwd` (relative paths land there). */
export async function runExample(project: string, short: string, cwd: string): Promise<RunResult> {
  try {
    const { stdout, stderr } = await run('node', [join(project, 'examples', `${short}.mjs`)], {
      cwd,
      timeout: 40_000,
      env: { ...process.env, NODE_OPTIONS: '' },
    })
    return { ok: true, output: stdout + stderr }
  } catch (err) {
    const e = err as { stdout?: string; stderr?: string; message: string }
    return { ok: false, output: `${e.message}\n${e.stdout ?? ''}${e.stderr ?? ''}` }
  }
}

/**
 * Type-checks all examples in one program (one tsc start-up) with the project's strict NodeNext
 * tsconfig. Returns the error lines per example: an error in `examples/<short>.ts` or in one of
 * our packages' files goes to that package; an error inside a third-party package goes to every
 * package of ours that depends on it.
 */
export async function typeCheck(
  project: string,
  pkgs: PublishablePackage[],
): Promise<Map<string, string[]>> {
  const tsc = join(repoRoot, 'node_modules', 'typescript', 'bin', 'tsc')
  const errors = new Map<string, string[]>(pkgs.map((p) => [p.short, []]))
  let output = ''
  try {
    await run('node', [tsc, '-p', project, '--pretty', 'false'], { cwd: project, timeout: 90_000 })
  } catch (err) {
    const e = err as { stdout?: string; message: string }
    output = e.stdout || e.message
  }
  for (const line of output.split('\n').filter((l) => /error TS\d+/.test(l))) {
    const owners = pkgs.filter((p) => {
      if (line.startsWith(`examples/${p.short}.ts`) || line.includes(`${p.name}/`)) return true
      const dep = line.match(/node_modules\/((?:@[^/]+\/)?[^/@]+)\/[^/]+\.d\.[cm]?ts/)?.[1]
      const deps = p.manifest.dependencies as Record<string, string> | undefined
      return dep !== undefined && !dep.startsWith('@harddrive-party/') && dep in (deps ?? {})
    })
    for (const o of owners.length ? owners : pkgs) errors.get(o.short)!.push(line)
  }
  return errors
}

/** publint on the tarball itself: every message (suggestions too), formatted. */
export async function publintTarball(tarball: Tarball): Promise<string[]> {
  const bytes = readFileSync(tarball.path)
  const { messages, pkg } = await publint({
    pack: { tarball: bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength) },
    level: 'suggestion',
  })
  return messages.map((m) => `${m.type}: ${formatMessage(m, pkg) ?? m.code}`)
}

/**
 * attw (the CLI's checks, in this process) with its esm-only profile: we publish ESM only (the
 * README says so), so a CommonJS `require` or `node10` resolution failing is expected;
 * every other problem is reported.
 */
export async function attwTarball(tarball: Tarball): Promise<string[]> {
  const pkg = createPackageFromTarballData(new Uint8Array(readFileSync(tarball.path)))
  const analysis = await checkPackage(pkg)
  if (!('problems' in analysis) || !analysis.types) return ['no types found']
  const ignored = ['node10', 'node16-cjs']
  return analysis.problems
    .filter((p) => !('resolutionKind' in p) || !ignored.includes(p.resolutionKind))
    .map((p) => JSON.stringify(p))
}

/** Every file name in a tarball (`package/dist/index.js`). */
export async function tarballFiles(tarball: Tarball): Promise<string[]> {
  const { stdout } = await run('tar', ['-tzf', tarball.path])
  return stdout.trim().split('\n')
}

/** A file's text from a tarball. */
export async function tarballText(tarball: Tarball, file: string): Promise<string> {
  const { stdout } = await run('tar', ['-xzOf', tarball.path, file], { maxBuffer: 64 << 20 })
  return stdout
}

export type { PublishablePackage }
