import { defineConfig } from 'vitest/config'
import { projects } from './vitest.workspace.ts'

export default defineConfig({
  // Library tests import siblings by package name and resolve to their TypeScript source.
  ssr: { resolve: { conditions: ['@harddrive-party/source', 'node', 'import', 'default'] } },
  resolve: { conditions: ['@harddrive-party/source', 'node', 'import', 'default'] },
  test: {
    projects,
    testTimeout: 30_000,
    hookTimeout: 60_000,
    pool: 'forks',
  },
})
