import { readFile } from 'node:fs/promises'
import { resolve } from 'node:path'
import type { ApiClient } from '@harddrive-party/peer-node/api-client'
import { apiUrlFile } from './api-address'
import { hostPortOption, last, type ParsedArgs } from './args'
import { API_CODES, CliError, plainMessage } from './errors'

/** Options every client command takes. */
export const CLIENT_ARGS = {
  storage: {
    type: 'string',
    valueHint: 'dir',
    description: 'Storage directory of the running peer (its token and API address are there)',
    default: '$XDG_DATA_HOME/harddrive-party or ~/.local/share/harddrive-party',
  },
  'ui-addr': {
    type: 'string',
    valueHint: 'host:port',
    description: 'Control API address',
    default: 'the one the peer saved, else 127.0.0.1:3030',
  },
} as const

export const JSON_ARG = {
  json: { type: 'boolean', description: 'One JSON document on stdout, for scripts' },
} as const

export interface Connected {
  api: ApiClient
  url: string
  token: string
}

/** A client of the peer running on the storage directory: its token and saved API URL. */
export async function connect(args: ParsedArgs): Promise<Connected> {
  // The client entry only: the whole peer takes about a second to load, the client a fraction.
  const { createApiClient, defaultStorageDir } = await import(
    '@harddrive-party/peer-node/api-client'
  )
  const storage = resolve(last(args, 'storage') ?? defaultStorageDir())
  const addr = last(args, 'ui-addr')
  let url = addr ? `http://${hostPort(addr)}/` : undefined
  url ??= (await readFile(apiUrlFile(storage), 'utf8').catch(() => '')).trim() || undefined
  url ??= 'http://127.0.0.1:3030/'
  let token: string
  try {
    token = (await readFile(resolve(storage, 'api-token'), 'utf8')).trim()
  } catch {
    throw new CliError(
      'NO_PEER',
      `no running peer: no API token in ${storage} (start one with: hdp start)`,
    )
  }
  return { api: createApiClient({ url, token }), url, token }
}

function hostPort(text: string): string {
  const { host, port } = hostPortOption(text, 'ui-addr')
  return host.includes(':') ? `[${host}]:${port}` : `${host}:${port}`
}

/** Runs an API call; a refused connection or an API error becomes the command's own error. */
export async function call<T>(conn: Connected, fn: () => Promise<T>): Promise<T> {
  try {
    return await fn()
  } catch (err) {
    throw asCliError(err, conn.url)
  }
}

export function asCliError(err: unknown, url: string): unknown {
  if (err instanceof CliError) return err
  const cause = (err as { cause?: { code?: string } }).cause
  if (
    err instanceof TypeError &&
    cause &&
    /ECONNREFUSED|ENOTFOUND|ECONNRESET|EHOSTUNREACH/.test(String(cause.code))
  ) {
    return new CliError('NO_PEER', `no running peer at ${url} (start one with: hdp start)`)
  }
  const code = (err as { code?: unknown }).code
  if ((err as Error).name === 'ApiError' && typeof code === 'string') {
    const mine = API_CODES[code] ?? 'FAILED'
    const message =
      mine === 'TOKEN_REJECTED'
        ? `token rejected by ${url} (${plainMessage(err)})`
        : plainMessage(err)
    return new CliError(mine, message, { cause: err })
  }
  return err
}

/** `Peer/share/dir` → the peer and the path inside its shares (`''` for the shares). */
export function splitPeerPath(text: string): { peer: string; path: string } {
  const clean = text.replace(/^\/+|\/+$/g, '')
  const i = clean.indexOf('/')
  return i === -1
    ? { peer: clean, path: '' }
    : { peer: clean.slice(0, i), path: clean.slice(i + 1) }
}
