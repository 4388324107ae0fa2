import { homedir } from 'node:os'
import { isAbsolute, join } from 'node:path'

/**
 * `$XDG_DATA_HOME/harddrive-party`, else `~/.local/share/harddrive-party`. In a module of its
 * own so that the `./api-client` entry can name it without loading the storage code.
 */
export function defaultStorageDir(env: NodeJS.ProcessEnv = process.env): string {
  const xdg = env.XDG_DATA_HOME
  const base = xdg && isAbsolute(xdg) ? xdg : join(homedir(), '.local', 'share')
  return join(base, 'harddrive-party')
}
