import { existsSync } from 'node:fs'
import { dirname, join, resolve } from 'node:path'
import { fileURLToPath } from 'node:url'

/**
 * Where the web UI's built files are: `HDP_WEB_ROOT` when set, else `apps/web-ui/dist` beside
 * this command's own `dist` in a source checkout (where `./hdp` builds both). Undefined when
 * neither holds an `index.html`: the control API then answers alone.
 */
export function findWebRoot(env: NodeJS.ProcessEnv = process.env): string | undefined {
  const here = dirname(fileURLToPath(import.meta.url))
  const candidates = env.HDP_WEB_ROOT
    ? [resolve(env.HDP_WEB_ROOT)]
    : [join(here, '../../web-ui/dist')]
  return candidates.find((dir) => existsSync(join(dir, 'index.html')))
}
