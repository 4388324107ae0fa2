// The public door equals the README's API section (style H2/H25): every name src/index.ts
// exports is named there, every call a `####` heading names is exported, and the `./internal`
// entry shares no name with the main one.
import { readFileSync } from 'node:fs'
import { join } from 'node:path'
import * as api from '@harddrive-party/wire-protocol'
import * as internal from '@harddrive-party/wire-protocol/internal'
import { expect, it } from 'vitest'

const root = join(import.meta.dirname, '..')

/** The names an entry file exports (values and types), from its `export { ... }` lists. */
function exportedNames(file: string): string[] {
  const text = readFileSync(join(root, 'src', file), 'utf8')
  const names: string[] = []
  for (const m of text.matchAll(/export (?:type )?\{([^}]*)\}/g)) {
    for (const part of m[1]!.split(',')) {
      const name = part
        .trim()
        .split(/\s+as\s+/)
        .at(-1)
      if (name) names.push(name)
    }
  }
  for (const m of text.matchAll(/export \* as (\w+)/g)) names.push(m[1]!)
  return names
}

const readme = readFileSync(join(root, 'README.md'), 'utf8')
const apiSection = readme.slice(readme.indexOf('## API'), readme.indexOf('## Errors'))
const internalHeading = apiSection.indexOf('/internal')
const publicSection = apiSection.slice(0, internalHeading)

it('every export of src/index.ts is named in the README API section', () => {
  const names = exportedNames('index.ts')
  expect(names.length).toBeGreaterThan(50)
  const missing = names.filter(
    (n) => !new RegExp(`\`(?:new |await )?${n}[\`(.]`).test(publicSection),
  )
  expect(missing).toEqual([])
})

it('every call a README heading names is exported by the main entry', () => {
  const headings = publicSection.split('\n').filter((l) => l.startsWith('#### '))
  const calls = headings.flatMap((h) =>
    [...h.matchAll(/`(?:new |await )?(\w+)[(`]/g)].map((m) => m[1]!),
  )
  expect(calls.length).toBeGreaterThan(20)
  expect(calls.filter((c) => !(c in api))).toEqual([])
})

it('the internal entry shares no name with the main one, and the README points to it', () => {
  const main = new Set(exportedNames('index.ts'))
  expect(exportedNames('internal.ts').filter((n) => main.has(n))).toEqual([])
  expect(Object.keys(internal).filter((n) => n in api)).toEqual([])
  expect(internalHeading).toBeGreaterThan(0)
})
