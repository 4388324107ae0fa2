import { readdirSync, readFileSync, statSync } from 'node:fs'
import { join, relative } from 'node:path'
import { describe, expect, it } from 'vitest'
import { findLayerViolations, type Workspace } from './layers'

const root = join(import.meta.dirname, '..')

function sourceFiles(dir: string): string[] {
  const out: string[] = []
  for (const name of readdirSync(dir)) {
    const p = join(dir, name)
    if (statSync(p).isDirectory()) out.push(...sourceFiles(p))
    else if (/\.(ts|tsx|mts|js|mjs)$/.test(name)) out.push(p)
  }
  return out
}

function readWorkspace(): Workspace {
  const ws: Workspace = []
  for (const group of ['packages', 'apps']) {
    for (const dir of readdirSync(join(root, group))) {
      const pkgDir = join(root, group, dir)
      const pkg = JSON.parse(readFileSync(join(pkgDir, 'package.json'), 'utf8'))
      const srcDir = join(pkgDir, 'src')
      ws.push({
        dir: `${group}/${dir}`,
        name: pkg.name,
        dependencies: Object.keys({
          ...pkg.dependencies,
          ...pkg.peerDependencies,
          ...pkg.optionalDependencies,
        }),
        devDependencies: Object.keys({ ...pkg.devDependencies }),
        sources: sourceFiles(srcDir).map((f) => ({
          file: relative(root, f),
          text: readFileSync(f, 'utf8'),
        })),
      })
    }
  }
  return ws
}

describe('layer graph (style H6)', () => {
  it('the workspace has every package of the layer table', () => {
    const names = readWorkspace().map((p) => p.name)
    for (const n of [
      'wire-protocol',
      'index-store',
      'transport',
      'holepunch',
      'discovery',
      'peer-node',
      'cli',
      'web-ui',
    ]) {
      expect(names).toContain(`@harddrive-party/${n}`)
    }
  })

  it('no package depends on or imports anything outside its layer', () => {
    expect(findLayerViolations(readWorkspace())).toEqual([])
  })

  it('the checker catches an upward edge, a sibling edge, I/O in wire-protocol and a reach into another src', () => {
    const bad: Workspace = [
      {
        dir: 'packages/wire-protocol',
        name: '@harddrive-party/wire-protocol',
        dependencies: ['cbor-x', 'ws'],
        devDependencies: [],
        sources: [
          {
            file: 'packages/wire-protocol/src/a.ts',
            text: "import { readFile } from 'node:fs/promises'\nimport fs from 'fs'",
          },
        ],
      },
      {
        dir: 'packages/transport',
        name: '@harddrive-party/transport',
        dependencies: ['@harddrive-party/discovery'],
        devDependencies: [],
        sources: [
          {
            file: 'packages/transport/src/b.ts',
            text: "import x from '../../peer-node/src/index'\nexport { y } from '@harddrive-party/peer-node'",
          },
        ],
      },
      {
        dir: 'packages/peer-node',
        name: '@harddrive-party/peer-node',
        dependencies: ['@harddrive-party/cli'],
        devDependencies: [],
        sources: [],
      },
      {
        dir: 'apps/web-ui',
        name: '@harddrive-party/web-ui',
        dependencies: ['@harddrive-party/wire-protocol'],
        devDependencies: [],
        sources: [
          {
            file: 'apps/web-ui/src/c.ts',
            text: "import { encodeCbor } from '@harddrive-party/wire-protocol/internal'",
          },
        ],
      },
    ]
    const found = findLayerViolations(bad).join('\n')
    expect(found).toContain('wire-protocol depends on I/O package ws')
    expect(found).toContain("wire-protocol imports 'node:fs/promises'")
    expect(found).toContain("wire-protocol imports 'fs'")
    expect(found).toContain('transport depends on @harddrive-party/discovery')
    expect(found).toContain("transport imports '@harddrive-party/peer-node'")
    expect(found).toContain("transport reaches outside its package: '../../peer-node/src/index'")
    expect(found).toContain('peer-node depends on @harddrive-party/cli')
    expect(found).toContain(
      "web-ui imports the internal entry '@harddrive-party/wire-protocol/internal'",
    )
  })

  it('the checker catches a shared type declared outside wire-protocol, and code in its home', () => {
    const bad: Workspace = [
      {
        dir: 'packages/wire-protocol',
        name: '@harddrive-party/wire-protocol',
        dependencies: [],
        devDependencies: [],
        sources: [
          {
            file: 'packages/wire-protocol/src/shared-types.ts',
            text: 'export interface AbortOptions { signal?: AbortSignal }\nexport const x = 1',
          },
        ],
      },
      {
        dir: 'packages/holepunch',
        name: '@harddrive-party/holepunch',
        dependencies: [],
        devDependencies: [],
        sources: [
          {
            file: 'packages/holepunch/src/a.ts',
            text: 'export interface SocketAddress {\n  host: string\n}\ntype Logger = (s: string) => void',
          },
          // Re-exporting and importing the shared types is the rule, not a violation.
          {
            file: 'packages/holepunch/src/b.ts',
            text: "import type { Identity } from '@harddrive-party/wire-protocol'\nexport type { Identity }",
          },
        ],
      },
    ]
    const found = findLayerViolations(bad)
    expect(found).toContain("wire-protocol's shared types module holds runtime code")
    expect(found).toContain(
      'holepunch declares shared type SocketAddress in packages/holepunch/src/a.ts (import it from wire-protocol)',
    )
    expect(found).toContain(
      'holepunch declares shared type Logger in packages/holepunch/src/a.ts (import it from wire-protocol)',
    )
    expect(found.filter((f) => f.includes('b.ts'))).toEqual([])
  })
})
