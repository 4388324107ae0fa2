import { createSocket } from 'node:dgram'
import { join } from 'node:path'
import type { Lab, Namespace } from './namespaces'
import { LabProcess } from './process'
import { hasCommand, run } from './run'

export interface StunEndpoint {
  host: string
  port: number
}

export interface StunServer {
  /** One endpoint per listening address, all on the same port. */
  readonly endpoints: StunEndpoint[]
  readonly process: LabProcess
  stop(): Promise<void>
}

export interface StunServerOptions {
  /** Addresses to listen on; two let clients tell EIM from EDM NATs. Default 127.0.0.1 and 127.0.0.2. */
  addresses?: string[]
  /** UDP port. Default 3478 inside a namespace, a free port on the host. */
  port?: number
  /** Run inside this namespace (default: on the host, which must then be loopback addresses). */
  ns?: Namespace
  /** Directory for the pid file, SQLite file and log. */
  dir: string
  /**
   * Also serve TURN (RFC 8656) with long-term credentials for this user; relayed ports are
   * taken on the same addresses. Loopback peers are allowed when the addresses are loopback.
   */
  turn?: TurnUser
}

export interface TurnUser {
  username: string
  password: string
  realm: string
}

/** Whether coturn's `turnserver` is installed. */
export function hasCoturn(): boolean {
  return hasCommand('turnserver')
}

/**
 * Starts a real coturn in STUN-only mode (or STUN and TURN with `turn`) (RFC 5389/8489 Binding, XOR-MAPPED-ADDRESS; with two
 * addresses it also reports OTHER-ADDRESS). Resolves once every address listens.
 */
export async function startStunServer(options: StunServerOptions): Promise<StunServer> {
  const addresses = options.addresses ?? ['127.0.0.1', '127.0.0.2']
  const port = options.port ?? (options.ns ? 3478 : await freeUdpPortPair(addresses))
  const turn = options.turn
  const turnArgs = turn
    ? [
        '--lt-cred-mech',
        '--user',
        `${turn.username}:${turn.password}`,
        '--realm',
        turn.realm,
        '--relay-ip',
        addresses[0]!,
        ...(addresses[0]!.startsWith('127.') ? ['--allow-loopback-peers'] : []),
        '--no-multicast-peers',
        '--min-port',
        '49152',
        '--max-port',
        '65535',
      ]
    : ['--stun-only']
  const args = [
    '-n',
    ...turnArgs,
    ...addresses.flatMap((a) => ['-L', a]),
    '-p',
    String(port),
    '--no-cli',
    '--no-tls',
    '--no-dtls',
    '--no-tcp',
    '--no-software-attribute',
    '--log-file',
    'stdout',
    '--simple-log',
    '--pidfile',
    join(options.dir, `turnserver-${port}.pid`),
    '--userdb',
    join(options.dir, `turndb-${port}`),
  ]
  const proc = options.ns
    ? options.ns.spawn('turnserver', args)
    : new LabProcess('turnserver', args, { label: 'coturn' })
  const listening = async () => {
    const out = options.ns ? await options.ns.exec('ss', ['-ulnH']) : await run('ss', ['-ulnH'])
    return addresses.every((a) => out.includes(`${a}:${port} `))
  }
  const deadline = Date.now() + 10_000
  while (!(await listening())) {
    if (Date.now() > deadline) {
      await proc.stop()
      throw new Error(
        `coturn did not listen on ${addresses.join(', ')}:${port}\n${proc.lines.slice(-20).join('\n')}`,
      )
    }
    const status = await Promise.race([
      proc.exited,
      new Promise((r) => setTimeout(r, 50, undefined)),
    ])
    if (status) throw new Error(`coturn exited: ${proc.lines.slice(-20).join('\n')} ${proc.stderr}`)
  }
  return {
    endpoints: addresses.map((host) => ({ host, port })),
    process: proc,
    async stop() {
      await proc.stop()
    },
  }
}

/** A port P free on every address, with P+1 free too (coturn's RFC 5780 alternate port). */
async function freeUdpPortPair(addresses: string[]): Promise<number> {
  for (let tries = 0; tries < 20; tries++) {
    const port = await freeUdpPort(addresses[0])
    if (port >= 65535) continue
    const free = await Promise.all(
      addresses.flatMap((a) => [isUdpPortFree(a, port), isUdpPortFree(a, port + 1)]),
    )
    if (free.every(Boolean)) return port
  }
  throw new Error('no free UDP port pair for coturn')
}

async function isUdpPortFree(host: string, port: number): Promise<boolean> {
  const s = createSocket('udp4')
  try {
    await new Promise<void>((resolve, reject) => {
      s.once('error', reject)
      s.bind(port, host, () => resolve())
    })
    return true
  } catch {
    return false
  } finally {
    await new Promise<void>((r) => s.close(() => r())).catch(() => {})
  }
}

/** Finds a UDP port that is free right now on `host`. */
export async function freeUdpPort(host = '127.0.0.1'): Promise<number> {
  const s = createSocket('udp4')
  await new Promise<void>((resolve, reject) => {
    s.once('error', reject)
    s.bind(0, host, () => resolve())
  })
  const { port } = s.address()
  await new Promise<void>((r) => s.close(() => r()))
  return port
}

export type { Lab }
