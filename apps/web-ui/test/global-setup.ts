import { execFileSync } from 'node:child_process'
import { join } from 'node:path'

/** The tests drive the built UI that the peer serves: build it once first. */
export default function setup() {
  const root = join(import.meta.dirname, '..')
  execFileSync('npx', ['vite', 'build', '--logLevel', 'warn'], { cwd: root, stdio: 'inherit' })
}
