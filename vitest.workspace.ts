import { existsSync } from 'node:fs'

// The list of vitest projects. Vitest 4 no longer loads this file by itself:
// vitest.config.ts imports it and hands it to `test.projects`.
export const packages = [
  'wire-protocol',
  'index-store',
  'transport',
  'holepunch',
  'discovery',
  'peer-node',
  'test-lab',
] as const

export const apps = ['cli', 'web-ui'] as const

// A project that needs shared real services (a broker, a STUN server) starts them in its own
// test/global-setup.ts; projects without one start nothing.
function project(name: string, root: string) {
  const setup = `${root}/test/global-setup.ts`
  return {
    extends: true as const,
    test: {
      name,
      root,
      include: ['test/**/*.test.ts'],
      ...(existsSync(setup) ? { globalSetup: ['test/global-setup.ts'] } : {}),
    },
  }
}

export const projects = [
  ...packages.map((name) => project(name, `packages/${name}`)),
  ...apps.map((name) => project(name, `apps/${name}`)),
  { extends: true as const, test: { name: 'repo', root: '.', include: ['test/**/*.test.ts'] } },
]
