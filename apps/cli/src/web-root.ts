import { existsSync } from 'node:fs'
import { dirname, join, resolve } from 'node:path'
import { fileURLToPath } from 'node:url'

/**
 * Where the web UI's built files are: `HDP_WEB_ROOT` when set, else `apps/web-ui/dist` beside
 * this command's own `dist` in a source checkout (where `./hdp` builds both). Undefined when
 * neither holds an `index.html`: the control API then answers alone.
 */
export function findWebRoot(env: NodeJS.ProcessEnv = process.env): string | undefined {
  const dir = env.HDP_WEB_ROOT
    ? resolve(env.HDP_WEB_ROOT)
    : join(dirname(fileURLToPath(import.meta.url)), '../../web-ui/dist')
  return existsSync(join(dir, 'index.html')) ? dir : undefined
}
