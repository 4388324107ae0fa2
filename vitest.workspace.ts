// The list of vitest projects. Vitest 4 no longer loads this file by itself:
// vitest.config.ts imports it and hands it to `test.projects`.
export const packages = [
  'wire-protocol',
  'index-store',
  'transport',
  'holepunch',
  'discovery',
  'peer-node',
] as const

export const apps = ['cli', 'web-ui'] as const

export const projects = [
  ...packages.map((name) => ({
    extends: true as const,
    test: { name, root: `packages/${name}`, include: ['test/**/*.test.ts'] },
  })),
  ...apps.map((name) => ({
    extends: true as const,
    test: { name, root: `apps/${name}`, include: ['test/**/*.test.ts'] },
  })),
  { extends: true as const, test: { name: 'repo', root: '.', include: ['test/**/*.test.ts'] } },
]
