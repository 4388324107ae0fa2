import type { Logger } from '@harddrive-party/wire-protocol'
import debug from 'debug'

/** The default logger: `debug('hdp:transport:<component>')` with `:error` and `:trace` children. */
export function defaultLogger(component: string): Logger {
  const name = `hdp:transport:${component}`
  return Object.assign(debug(name), {
    error: debug(`${name}:error`),
    trace: debug(`${name}:trace`),
  })
}
