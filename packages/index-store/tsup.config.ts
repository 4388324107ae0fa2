import { defineConfig } from 'tsup'

export default defineConfig({
  // The scan worker is its own entry: index.js starts it as `new URL('./scan-worker.js', import.meta.url)`.
  entry: ['src/index.ts', 'src/scan-worker.ts'],
  format: ['esm'],
  dts: true,
  sourcemap: true,
  clean: true,
  target: 'node20',
})
