import debug from 'debug'

/** A `debug`-style logger with `.error` and `.trace` children (style rule H19). */
export type PeerNodeLogger = {
  (formatter: string, ...args: unknown[]): void
  error: (formatter: string, ...args: unknown[]) => void
  trace: (formatter: string, ...args: unknown[]) => void
}

/** The default logger: `debug('hdp:peer-node:<component>')` with `:error` and `:trace`. */
export function defaultLogger(component: string): PeerNodeLogger {
  const name = `hdp:peer-node:${component}`
  return Object.assign(debug(name), {
    error: debug(`${name}:error`),
    trace: debug(`${name}:trace`),
  })
}
