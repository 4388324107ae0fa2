// Issue 18: what a developer importing our packages from the registry gets. Packs every
// publishable package, installs all tarballs into one fresh project with npm and one with pnpm,
// runs each README example there (the README text, placeholders filled by
// test/consumer/placeholders.ts), type-checks it strictly, and runs publint and attw on the
// tarballs. Builds dist/ first when it is missing.
import { mkdtempSync, readFileSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import {
  ensureBuilt,
  importedPackages,
  installLine,
  pack,
  publishablePackages,
  relativeLinks,
  repoRoot,
  type Tarball,
  usageExample,
} from './consumer/packages'
import { fillExample } from './consumer/placeholders'
import {
  attwTarball,
  type Installer,
  installProject,
  publintTarball,
  type RunResult,
  runExample,
  tarballFiles,
  tarballText,
  typeCheck,
  writeExample,
} from './consumer/project'

const pkgs = publishablePackages()
const installers: Installer[] = ['npm', 'pnpm']
// discovery: no broker on 127.0.0.1:1883 and no other peer here, so the example times out.
const saysWhatHappened: Record<string, RegExp> = {
  discovery: /no peer announced itself on this topic within 10 s/,
}
const rootLicense = readFileSync(join(repoRoot, 'LICENSE'), 'utf8')

interface Report {
  tarball: Tarball
  files: string[]
  manifest: Record<string, unknown>
  runs: Record<Installer, RunResult[]>
  types: string[]
  publint: string[]
  attw: string[]
}
const reports = new Map<string, Report>()
const temp: string[] = []

/** Runs tasks at most `limit` at a time (the machine is shared). */
async function pool<T>(tasks: (() => Promise<T>)[], limit: number): Promise<T[]> {
  const out: T[] = new Array(tasks.length)
  let next = 0
  const worker = async () => {
    while (next < tasks.length) {
      const i = next++
      out[i] = await tasks[i]!()
    }
  }
  await Promise.all(Array.from({ length: limit }, worker))
  return out
}

beforeAll(async () => {
  const t0 = Date.now()
  const phase = (what: string) => console.log(`consumer: ${what} at ${Date.now() - t0} ms`)
  await ensureBuilt(pkgs)
  phase('built')
  const dest = mkdtempSync(join(tmpdir(), 'hdp-consumer-tgz-'))
  temp.push(dest)
  const tarballs = new Map<string, Tarball>()
  await Promise.all(pkgs.map(async (p) => tarballs.set(p.name, await pack(p, dest))))
  const projects = Object.fromEntries(
    await Promise.all(installers.map(async (i) => [i, await installProject(i, tarballs)] as const)),
  ) as Record<Installer, string>
  temp.push(...Object.values(projects))
  phase('packed and installed')
  for (const p of pkgs) {
    const code = fillExample(p.short, usageExample(p.readme))
    for (const i of installers) await writeExample(projects[i], p.short, code)
  }
  const tasks: (() => Promise<void>)[] = []
  for (const p of pkgs) {
    const tarball = tarballs.get(p.name)!
    const report: Report = {
      tarball,
      files: await tarballFiles(tarball),
      manifest: JSON.parse(await tarballText(tarball, 'package/package.json')),
      runs: { npm: [], pnpm: [] },
      types: [],
      publint: [],
      attw: [],
    }
    reports.set(p.short, report)
    // One task per example, so two runs of it never overlap (two discovery examples at once
    // would find each other over mDNS and not be alone).
    tasks.push(async () => {
      for (const i of installers) {
        const cwd = mkdtempSync(join(tmpdir(), `hdp-consumer-run-${p.short}-`))
        temp.push(cwd)
        report.runs[i].push(await runExample(projects[i], p.short, cwd))
        // Again in the same directory under npm: an example must survive being run twice.
        if (i === 'npm') report.runs[i].push(await runExample(projects[i], p.short, cwd))
        phase(`${p.short} example ran under ${i}`)
      }
    })
    tasks.push(async () => {
      report.publint = await publintTarball(tarball)
      report.attw = await attwTarball(tarball)
      phase(`${p.short} publint and attw`)
    })
  }
  tasks.unshift(async () => {
    const errors = await typeCheck(projects.pnpm, pkgs)
    for (const [short, lines] of errors) reports.get(short)!.types = lines
    phase('type-checked')
  })
  // Four at a time: the examples mostly wait (discovery sleeps 10 s), tsc and attw compute.
  await pool(tasks, 4)
  console.log(table())
  // About a minute on an idle 2-core machine; the limit leaves room for a busy one.
}, 240_000)

afterAll(() => {
  for (const d of temp) rmSync(d, { recursive: true, force: true })
})

function table(): string {
  const rows = ['package | tarball | example npm | example pnpm | strict tsc | publint | attw']
  for (const [short, r] of reports) {
    const ran = (i: Installer) => r.runs[i].map((x) => (x.ok ? 'ok' : 'FAIL')).join('/')
    rows.push(
      [
        short,
        `${(r.tarball.bytes / 1024).toFixed(1)} kB`,
        ran('npm'),
        ran('pnpm'),
        r.types.length === 0 ? 'ok' : `${r.types.length} errors`,
        r.publint.length === 0 ? 'clean' : `${r.publint.length} msg`,
        r.attw.length === 0 ? 'clean' : `${r.attw.length} problems`,
      ].join(' | '),
    )
  }
  return rows.join('\n')
}

describe.each(pkgs.map((p) => [p.short, p] as const))('%s as a consumer gets it', (short, p) => {
  const report = () => reports.get(short)!

  it('README example exits 0 under npm (twice) and pnpm', () => {
    for (const i of installers) {
      for (const r of report().runs[i]) {
        expect(r.ok, `${i}: ${r.output}`).toBe(true)
        // Run alone, an example that can wait in vain says so instead of ending silently.
        if (short in saysWhatHappened) expect(r.output).toMatch(saysWhatHappened[short]!)
      }
    }
  })

  it('README example type-checks under strict, NodeNext, skipLibCheck false', () => {
    expect(report().types).toEqual([])
  })

  it('publint and attw (esm-only profile) find nothing', () => {
    expect(report().publint).toEqual([])
    expect(report().attw).toEqual([])
  })

  it('the README example imports only what its install line names', () => {
    const installed = installLine(p.readme)
    expect(installed).toContain(p.name)
    for (const name of importedPackages(usageExample(p.readme))) expect(installed).toContain(name)
  })

  it('the README says ESM only and Node >= 20.19, and has no links that die on the registry', () => {
    expect(p.readme).toMatch(/ESM only/)
    expect(p.readme).toMatch(/Node >= 20\.19/)
    expect(relativeLinks(p.readme)).toEqual([])
  })

  it('a ./testing entry point is documented as needing vitest', () => {
    const exportsMap = report().manifest.exports as Record<string, unknown>
    if (!exportsMap['./testing']) return
    const at = p.readme.indexOf(`${p.name}/testing'`)
    expect(at, 'README documents ./testing').toBeGreaterThan(-1)
    expect(p.readme.slice(at, at + 400)).toMatch(/Needs `vitest`/)
  })

  it('the tarball holds dist, README, LICENSE and package.json only, with publishing metadata', () => {
    const files = report().files
    expect(files).toContain('package/LICENSE')
    expect(readFileSync(join(p.dir, 'LICENSE'), 'utf8')).toBe(rootLicense)
    expect(files).toContain('package/README.md')
    for (const f of files)
      expect(f).toMatch(/^package\/(dist\/|LICENSE$|README\.md$|package\.json$)/)
    const m = report().manifest
    expect(m.license).toBe('GPL-3.0-or-later')
    expect(m.repository).toMatchObject({ type: 'git', directory: `packages/${short}` })
    expect(m.homepage).toMatch(/^https:\/\//)
    expect(m.bugs).toMatchObject({ url: expect.stringMatching(/^https:\/\//) })
    expect((m.engines as Record<string, string>).node).toBe('>=20.19')
    // The published exports carry no monorepo-only condition pointing at files not shipped.
    expect(JSON.stringify(m.exports)).not.toContain('@harddrive-party/source')
  })

  it('the public types do not re-export lmdb', async () => {
    for (const f of report().files.filter((x) => x.endsWith('.d.ts'))) {
      expect(await tarballText(report().tarball, f)).not.toMatch(/['"]lmdb['"]/)
    }
  })
})
