import debug from 'debug'

/** A component logger: call it for normal lines; `.error` and `.trace` are sub-namespaces. */
export interface PeerNodeLogger {
  (formatter: string, ...args: unknown[]): void
  error(formatter: string, ...args: unknown[]): void
  trace(formatter: string, ...args: unknown[]): void
}

/** `debug('hdp:peer-node:<component>')` with `:error` and `:trace` children. */
export function createLogger(component: string): PeerNodeLogger {
  const name = `hdp:peer-node:${component}`
  const log = debug(name)
  return Object.assign((f: string, ...args: unknown[]) => log(f, ...args), {
    error: debug(`${name}:error`),
    trace: debug(`${name}:trace`),
  })
}
