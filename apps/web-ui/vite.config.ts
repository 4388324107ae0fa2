import { defineConfig } from 'vite'

export default defineConfig({
  resolve: { conditions: ['@harddrive-party/source'] },
  build: { outDir: 'dist', emptyOutDir: true },
})
