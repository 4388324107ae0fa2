import { isIPv6 } from '@harddrive-party/wire-protocol/internal'
import { HolepunchError } from './errors'

/** A STUN server as configured: a host name or IP literal and a port. */
export interface StunServer {
  host: string
  port: number
}

/**
 * Public STUN servers tried when the caller gives none (shuffled, two distinct answers needed).
 * Operators of a private deployment pass their own list (`--stun-server`).
 */
export const DEFAULT_STUN_SERVERS: readonly string[] = [
  'stun.l.google.com:19302',
  'stun1.l.google.com:19302',
  'stun2.l.google.com:19302',
  'stun.cloudflare.com:3478',
  'stun.nextcloud.com:3478',
  'stun.sipgate.net:3478',
  'stun.stunprotocol.org:3478',
  'global.stun.twilio.com:3478',
]

/** Parses `host:port`, `[v6]:port` or a bare host (port 3478); throws `STUN_BAD_SERVER`. */
export function parseStunServer(entry: string | StunServer): StunServer {
  if (typeof entry !== 'string') {
    checkPort(entry.port, String(entry.host))
    return { host: entry.host, port: entry.port }
  }
  const text = entry.trim().replace(/^stun:/i, '')
  let host: string
  let port = 3478
  const bracket = /^\[([^\]]+)\](?::(\d+))?$/.exec(text)
  if (bracket) {
    host = bracket[1]!
    if (bracket[2] !== undefined) port = Number(bracket[2])
  } else if (isIPv6(text)) {
    host = text
  } else {
    const parts = text.split(':')
    if (parts.length > 2) throw badServer(entry)
    host = parts[0]!
    if (parts[1] !== undefined) port = /^\d+$/.test(parts[1]) ? Number(parts[1]) : Number.NaN
  }
  if (host === '' || !/^[A-Za-z0-9.:-]+$/.test(host)) throw badServer(entry)
  checkPort(port, entry)
  return { host, port }
}

function checkPort(port: number, entry: string): void {
  if (!Number.isInteger(port) || port < 1 || port > 65535) throw badServer(entry)
}

function badServer(entry: string): HolepunchError {
  return new HolepunchError(
    'STUN_BAD_SERVER',
    `STUN server ${JSON.stringify(entry)} is not host:port`,
  )
}
