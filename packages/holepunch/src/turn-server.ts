import { isIPv6 } from '@harddrive-party/wire-protocol/internal'
import { HolepunchError } from './errors'

/** A TURN server with long-term credentials (`turn://user:pass@host:port`). */
export interface TurnServer {
  host: string
  port: number
  username: string
  password: string
}

/** Longest username and password we send (RFC 8489 §14.3: USERNAME under 513 bytes). */
const MAX_CREDENTIAL_BYTES = 512

/**
 * Parses `turn://user:pass@host:port` (user and password percent-encoded; port 3478 when
 * absent; `[v6]` hosts). Only UDP (`?transport=udp` or none). Throws `TURN_BAD_SERVER` with the
 * URL's password hidden.
 */
export function parseTurnServer(entry: string | TurnServer): TurnServer {
  if (typeof entry !== 'string') return check({ ...entry }, redact(entry))
  let url: URL
  try {
    url = new URL(entry.trim())
  } catch {
    throw badServer(hide(entry), 'is not a URL')
  }
  const shown = hide(entry)
  if (url.protocol !== 'turn:') throw badServer(shown, 'must start with turn://')
  const transport = url.searchParams.get('transport')
  if (transport !== null && transport !== 'udp') throw badServer(shown, 'supports UDP only')
  if (url.username === '' || url.password === '') throw badServer(shown, 'needs user:pass@')
  let host = url.hostname
  if (host.startsWith('[') && host.endsWith(']')) host = host.slice(1, -1)
  let username: string
  let password: string
  try {
    username = decodeURIComponent(url.username)
    password = decodeURIComponent(url.password)
  } catch {
    throw badServer(shown, 'has a malformed percent-encoding')
  }
  return check({ host, port: url.port === '' ? 3478 : Number(url.port), username, password }, shown)
}

/** `turn://user:***@host:port`: for logs and the doctor. */
export function redact(server: TurnServer): string {
  const host = isIPv6(server.host) ? `[${server.host}]` : server.host
  return `turn://${server.username}:***@${host}:${server.port}`
}

function check(server: TurnServer, shown: string): TurnServer {
  if (!Number.isInteger(server.port) || server.port < 1 || server.port > 65535) {
    throw badServer(shown, 'has a bad port')
  }
  if (server.host === '' || !/^[A-Za-z0-9.:-]+$/.test(server.host)) {
    throw badServer(shown, 'has a bad host')
  }
  const enc = new TextEncoder()
  if (
    enc.encode(server.username).length > MAX_CREDENTIAL_BYTES ||
    enc.encode(server.password).length > MAX_CREDENTIAL_BYTES
  ) {
    throw badServer(shown, `has a user or password over ${MAX_CREDENTIAL_BYTES} bytes`)
  }
  return server
}

function hide(entry: string): string {
  return entry.replace(/^(\s*[a-z]+:\/\/[^:@/]*:)[^@]*@/i, '$1***@')
}

function badServer(shown: string, why: string): HolepunchError {
  return new HolepunchError('TURN_BAD_SERVER', `TURN server ${JSON.stringify(shown)} ${why}`)
}
