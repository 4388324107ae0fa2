import { defineConfig } from 'vitest/config'
import { projects } from './vitest.workspace.ts'

export default defineConfig({
  // Library tests import siblings by package name and resolve them to their TypeScript source.
  // Only add our condition to Vite's defaults: a plain 'import' here would reach the workers
  // as `--conditions import` and make CommonJS require() load ESM wrappers (ws in mqtt.js).
  ssr: {
    resolve: {
      conditions: ['@harddrive-party/source', 'module', 'node', 'development|production'],
    },
  },
  test: {
    projects,
    testTimeout: 30_000,
    hookTimeout: 60_000,
    pool: 'forks',
  },
})
