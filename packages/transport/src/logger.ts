import debug from 'debug'
import type { ComponentLogger } from './types'

/** The default logger: `debug('hdp:transport:<component>')` with `:error` and `:trace` children. */
export function defaultLogger(component: string): ComponentLogger {
  const name = `hdp:transport:${component}`
  return Object.assign(debug(name), {
    error: debug(`${name}:error`),
    trace: debug(`${name}:trace`),
  })
}
