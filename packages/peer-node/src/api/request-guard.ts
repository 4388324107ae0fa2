import { networkInterfaces } from 'node:os'
import { ApiError } from './api-error'
import { tokenMatches } from './api-token'

/** The cookie a browser gets after opening `/?token=...`, so the UI's own requests carry it. */
export const TOKEN_COOKIE = 'hdp_api_token'

export interface GuardedRequest {
  method: string
  headers: Record<string, string | string[] | undefined>
  /** The query's `token`, if any. */
  queryToken: string | undefined
}

/**
 * Who may talk to the API: the right `Host` (DNS rebinding sends a foreign one), no foreign
 * `Origin` (a page on another site), and the token. The token is accepted in the
 * `Authorization: Bearer` header (scripts, the CLI), in the {@link TOKEN_COOKIE} cookie (the
 * browser after its first load) and, for GET only, as `?token=` (the first load, `<video>`
 * links, the browser's WebSocket, which cannot set headers). Never in a POST's query or body.
 */
export class RequestGuard {
  readonly #token: string
  readonly #hosts: Set<string>

  constructor(token: string, hosts: Iterable<string>) {
    this.#token = token
    this.#hosts = new Set([...hosts].map((h) => h.toLowerCase()))
  }

  /** The host names (`host:port`) this API answers to. */
  get hosts(): string[] {
    return [...this.#hosts]
  }

  /** Throws `FORBIDDEN` or `UNAUTHORIZED`; returns how the token came. */
  check(req: GuardedRequest): 'header' | 'cookie' | 'query' {
    const host = single(req.headers.host)
    if (host === undefined || !this.#hosts.has(host.toLowerCase())) {
      throw new ApiError('FORBIDDEN', 'this Host is not the API (DNS rebinding?)')
    }
    const origin = single(req.headers.origin)
    if (origin !== undefined && !this.#isOwnOrigin(origin)) {
      throw new ApiError('FORBIDDEN', 'requests from other sites are refused')
    }
    const fetchSite = single(req.headers['sec-fetch-site'])
    if (fetchSite === 'cross-site') {
      throw new ApiError('FORBIDDEN', 'requests from other sites are refused')
    }
    const auth = single(req.headers.authorization)
    if (auth !== undefined) {
      const match = /^Bearer ([^\s]+)$/.exec(auth)
      if (match?.[1] !== undefined && tokenMatches(match[1], this.#token)) return 'header'
      throw new ApiError('UNAUTHORIZED', 'wrong token')
    }
    const cookie = cookieValue(single(req.headers.cookie), TOKEN_COOKIE)
    if (cookie !== undefined && tokenMatches(cookie, this.#token)) return 'cookie'
    const isGet = req.method === 'GET' || req.method === 'HEAD'
    if (isGet && req.queryToken !== undefined && tokenMatches(req.queryToken, this.#token)) {
      return 'query'
    }
    throw new ApiError('UNAUTHORIZED', 'a token is needed (Authorization: Bearer <token>)')
  }

  #isOwnOrigin(origin: string): boolean {
    let url: URL
    try {
      url = new URL(origin)
    } catch {
      return false
    }
    return (url.protocol === 'http:' || url.protocol === 'https:') && this.#hosts.has(url.host)
  }
}

function single(value: string | string[] | undefined): string | undefined {
  return Array.isArray(value) ? value[0] : value
}

function cookieValue(header: string | undefined, name: string): string | undefined {
  if (header === undefined) return undefined
  for (const part of header.split(';')) {
    const eq = part.indexOf('=')
    if (eq !== -1 && part.slice(0, eq).trim() === name) return part.slice(eq + 1).trim()
  }
  return undefined
}

/** Host headers a browser sends for this API: loopback names, and the bound address's. */
export function allowedHosts(bound: string, port: number, extra: readonly string[]): string[] {
  const names = new Set(['127.0.0.1', 'localhost', '[::1]'])
  if (bound === '0.0.0.0' || bound === '::') {
    for (const list of Object.values(networkInterfaces())) {
      for (const a of list ?? []) names.add(a.family === 'IPv6' ? `[${a.address}]` : a.address)
    }
  } else {
    names.add(bound.includes(':') ? `[${bound}]` : bound)
  }
  const hosts = [...names].map((n) => `${n}:${port}`)
  return [...hosts, ...extra]
}

/** True for an address only this machine can reach. */
export function isLoopback(host: string): boolean {
  return host === 'localhost' || host === '::1' || /^127\.\d+\.\d+\.\d+$/.test(host)
}
