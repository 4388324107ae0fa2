import { defineConfig } from 'vite'

export default defineConfig({
  resolve: { conditions: ['@harddrive-party/source'] },
  // Preact's automatic JSX runtime, without a plugin: Vite's own transformer handles TSX.
  oxc: { jsx: { runtime: 'automatic', importSource: 'preact' } },
  build: { outDir: 'dist', emptyOutDir: true, target: 'es2022' },
})
