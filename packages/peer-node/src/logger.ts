import type { Logger } from '@harddrive-party/wire-protocol'
import debug from 'debug'

/** The default logger: `debug('hdp:peer-node:<component>')` with `:error` and `:trace`. */
export function defaultLogger(component: string): Logger {
  const name = `hdp:peer-node:${component}`
  return Object.assign(debug(name), {
    error: debug(`${name}:error`),
    trace: debug(`${name}:trace`),
  })
}
