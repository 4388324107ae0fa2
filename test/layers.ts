import { builtinModules } from 'node:module'

export type Workspace = {
  dir: string
  name: string
  dependencies: string[]
  devDependencies: string[]
  sources: { file: string; text: string }[]
}[]

const scope = '@harddrive-party/'

/** Which sibling packages each package may depend on (style H6). */
export const ALLOWED_EDGES: Record<string, readonly string[]> = {
  'wire-protocol': [],
  'index-store': ['wire-protocol'],
  transport: ['wire-protocol'],
  holepunch: ['wire-protocol'],
  discovery: ['wire-protocol'],
  'peer-node': ['wire-protocol', 'index-store', 'transport', 'holepunch', 'discovery'],
  cli: ['peer-node', 'wire-protocol'],
  'web-ui': ['wire-protocol'],
  'test-lab': [],
}

/** Test-only packages: allowed as devDependencies anywhere, never as runtime dependencies. */
export const TEST_ONLY = ['test-lab']

/**
 * Edges allowed for tests only (devDependencies): web-ui's browser tests start real peers with
 * their API server and a broker (discovery's testing helpers); its `src` still imports wire-protocol alone (checked below).
 */
export const DEV_ONLY_EDGES: Record<string, readonly string[]> = {
  'web-ui': ['peer-node', 'discovery'],
}

/** The only third-party packages the pure protocol layer may import. */
export const WIRE_PROTOCOL_ALLOWED = ['cbor-x', '@noble/hashes', '@noble/ciphers', '@noble/curves']

/**
 * The structural types that several packages share (issue 10, "one shape for shared ideas"):
 * each is declared once, type-only, in wire-protocol's shared-types module, and other packages
 * import or re-export it instead of declaring their own.
 */
export const SHARED_TYPES = [
  'AbortOptions',
  'SocketAddress',
  'Identity',
  'DatagramSocket',
  'Logger',
  'CreateLogger',
]
export const SHARED_TYPES_HOME = 'packages/wire-protocol/src/shared-types.ts'

// `interface X`, `class X` or `type X =` (not `type X,` in an import list).
const names = SHARED_TYPES.join('|')
const declarationRe = new RegExp(
  `^\\s*(?:export\\s+)?(?:declare\\s+)?(?:(?:interface|class)\\s+(${names})\\b|type\\s+(${names})\\s*(?:<[^>]*>)?\\s*=)`,
  'gm',
)
/** Anything in a module that emits code: the shared-types home must hold types only. */
const runtimeRe =
  /^\s*(?:export\s+)?(?:const|let|var|function|class|enum|async\s+function)\b|^\s*import\s+(?!type\b)/m

/** Where a shared type is declared outside its home, or the home holds runtime code. */
function sharedTypeViolations(short: string, file: string, text: string): string[] {
  const code = text.replace(/\/\*[\s\S]*?\*\//g, '').replace(/^\s*\/\/.*$/gm, '')
  if (file === SHARED_TYPES_HOME) {
    return runtimeRe.test(code) ? [`wire-protocol's shared types module holds runtime code`] : []
  }
  return [...code.matchAll(declarationRe)].map(
    (m) =>
      `${short} declares shared type ${m[1] ?? m[2]} in ${file} (import it from wire-protocol)`,
  )
}

const importRe =
  /(?:^|[^.\w])(?:import|export)\s[^'"]*?from\s*['"]([^'"]+)['"]|import\s*\(\s*['"]([^'"]+)['"]\s*\)|^\s*import\s+['"]([^'"]+)['"]/gm

function importsOf(text: string): string[] {
  const out: string[] = []
  // Examples in doc comments are not imports.
  const code = text.replace(/\/\*[\s\S]*?\*\//g, '').replace(/^\s*\/\/.*$/gm, '')
  for (const m of code.matchAll(importRe)) out.push((m[1] ?? m[2] ?? m[3])!)
  return out
}

function packageOf(specifier: string): string {
  const parts = specifier.split('/')
  return specifier.startsWith('@') ? parts.slice(0, 2).join('/') : parts[0]!
}

/** Every dependency edge or import that breaks the layer graph, as readable lines. */
export function findLayerViolations(ws: Workspace): string[] {
  const problems: string[] = []
  for (const pkg of ws) {
    const short = pkg.name.replace(scope, '')
    const allowed = ALLOWED_EDGES[short]
    if (allowed === undefined) {
      problems.push(`${pkg.name} is not in the layer table`)
      continue
    }
    for (const dep of [...pkg.dependencies, ...pkg.devDependencies]) {
      const isTestOnlyDevDep =
        (TEST_ONLY.includes(dep.replace(scope, '')) ||
          (DEV_ONLY_EDGES[short] ?? []).includes(dep.replace(scope, ''))) &&
        !pkg.dependencies.includes(dep)
      if (dep.startsWith(scope) && !allowed.includes(dep.replace(scope, '')) && !isTestOnlyDevDep) {
        problems.push(`${short} depends on ${dep}`)
      }
      if (
        short === 'wire-protocol' &&
        !dep.startsWith(scope) &&
        pkg.dependencies.includes(dep) &&
        !WIRE_PROTOCOL_ALLOWED.includes(dep)
      ) {
        problems.push(`wire-protocol depends on I/O package ${dep}`)
      }
    }
    for (const { file, text } of pkg.sources) {
      problems.push(...sharedTypeViolations(short, file, text))
      for (const spec of importsOf(text)) {
        if (spec.startsWith('.')) {
          const depth = file.split('/').length - pkg.dir.split('/').length - 1
          const ups = spec.split('/').filter((s) => s === '..').length
          if (ups >= depth)
            problems.push(`${short} reaches outside its package: '${spec}' in ${file}`)
          continue
        }
        if (spec.startsWith(scope) && !allowed.includes(packageOf(spec).replace(scope, ''))) {
          problems.push(`${short} imports '${spec}' in ${file}`)
        }
        // `./internal` entries are for sibling packages, outside semver: apps use the main door.
        if (spec.startsWith(scope) && spec.endsWith('/internal') && pkg.dir.startsWith('apps/')) {
          problems.push(`${short} imports the internal entry '${spec}' in ${file}`)
        }
        if (short === 'wire-protocol') {
          const bare = spec.replace(/^node:/, '')
          if (spec.startsWith('node:') || builtinModules.includes(bare.split('/')[0]!)) {
            problems.push(`wire-protocol imports '${spec}' in ${file}`)
          } else if (!spec.startsWith(scope) && !WIRE_PROTOCOL_ALLOWED.includes(packageOf(spec))) {
            problems.push(`wire-protocol imports I/O package '${spec}' in ${file}`)
          }
        }
      }
    }
  }
  return problems
}
