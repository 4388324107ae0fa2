import { defineConfig } from 'tsup'

export default defineConfig({
  // The scan worker is its own entry: index.js starts it as `new URL('./scan-worker.js', import.meta.url)`.
  entry: ['src/index.ts', 'src/scan-worker.ts'],
  format: ['esm'],
  // stripInternal keeps lmdb's types out of our public .d.ts: lmdb's own index.d.ts fails a
  // consumer's strict NodeNext build (TS1203) unless they turn on skipLibCheck.
  dts: { compilerOptions: { stripInternal: true } },
  sourcemap: true,
  clean: true,
  target: 'node20',
})
