import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import type { PeerInfo } from '@harddrive-party/peer-node'
import {
  type LabHost,
  type LabProcess,
  type NatKind,
  NatLab,
  netnsSupport,
  skipReason,
} from '@harddrive-party/test-lab'
import { loadOrCreateIdentity } from '@harddrive-party/transport'

// One boot for peer-node's NAT-lab tests: test-lab's routers and coturn, mosquitto on the lab's
// public network (reachable from behind every NAT), hosts, a temp dir, and peer fixtures spawned
// in the hosts' namespaces with the lab's STUN servers and broker. `stop()` ends them all.

/** The peer fixture (test/fixtures/peer.ts): ready/connect lines, peers/ls/search/cut commands. */
export const PEER_FIXTURE = join(import.meta.dirname, 'fixtures/peer.ts')
/** The broker every lab peer uses: mosquitto on the public net's first address. */
export const LAB_BROKER_URL = 'mqtt://198.51.100.1:1883'

const hex = (key: Uint8Array) => Buffer.from(key).toString('hex')

export interface PeerLabOptions {
  /** NAT routers by name (test-lab's `nats`). */
  nats: Record<string, NatKind>
  /** Hosts to add: name -> the router it sits behind (undefined: on the public net, no NAT). */
  hosts: Record<string, string | undefined>
  /** Global IPv6 (2001:db8::/32) on the public net and every LAN. */
  ipv6?: boolean
  /** Start mosquitto on the public net (default true). */
  broker?: boolean
  /** Temp dir prefix. */
  prefix?: string
}

export interface StartPeerOptions {
  /** Storage directory. */
  dir: string
  topic: string
  /** Default: the peer fixture. */
  fixture?: string
  /** A folder to share (see `PeerLab.share`). */
  share?: string
  /** Address to bind; default 0.0.0.0 ('::' for IPv6). */
  host?: string
  /** More fixture arguments. */
  extra?: string[]
}

export interface PeerLab {
  readonly lab: NatLab
  readonly hosts: Record<string, LabHost>
  /** A temp dir removed at stop(). */
  readonly dir: string
  /** `host:port,host:port` of the lab's STUN servers, as the fixtures take them. */
  readonly stun: string
  /** Spawns a fixture in `host`'s namespace with the lab's broker and STUN servers. */
  start(host: LabHost, options: StartPeerOptions): LabProcess
  /** Two storage dirs whose keys make the first one the dialer (lower key). */
  dirsWhereFirstDials(name: string): Promise<[string, string]>
  /** A share folder named `name` holding `albums/song-of-<name>.flac` (see `expectBrowse`). */
  share(name: string): Promise<string>
  /** Runs `fn` at stop(), before the lab goes (e.g. a miniupnpd in a router). */
  onStop(fn: () => Promise<unknown>): void
  stop(): Promise<void>
}

/** Why the lab cannot run here ('' when it can); printed once by the caller's describe. */
export function peerLabSkipReason(label: string): string {
  const support = netnsSupport()
  if (support.ok) return ''
  const reason = skipReason(support)
  console.warn(`${label}: ${reason}`)
  return reason
}

export async function startPeerLab(options: PeerLabOptions): Promise<PeerLab> {
  const lab = await NatLab.create({
    nats: options.nats,
    ...(options.ipv6 ? { ipv6: true } : {}),
  })
  const running = new Set<LabProcess>()
  const stops: (() => Promise<unknown>)[] = []
  let broker: LabProcess | undefined
  let dir = ''
  const stop = async () => {
    await Promise.allSettled([...running].map((p) => p.stop(3000)))
    for (const fn of stops.splice(0).reverse()) await fn().catch(() => {})
    await broker?.stop(1000)
    await lab.destroy()
    if (dir) await rm(dir, { recursive: true, force: true })
  }
  try {
    const hosts: Record<string, LabHost> = {}
    for (const [name, router] of Object.entries(options.hosts))
      hosts[name] = await lab.addHost(name, router)
    if (options.broker !== false) {
      const conf = join(lab.lab.dir, 'mosquitto.conf')
      const { hostname, port } = new URL(LAB_BROKER_URL)
      await writeFile(
        conf,
        `listener ${port} ${hostname}\nallow_anonymous true\npersistence false\n`,
      )
      broker = lab.pub.spawn('mosquitto', ['-c', conf])
    }
    dir = await mkdtemp(join(tmpdir(), options.prefix ?? 'hdp-peer-lab-'))
    let shares = 0
    const stun = lab.stunServers.map((s) => `${s.host}:${s.port}`).join(',')
    return {
      lab,
      hosts,
      dir,
      stun,
      start(host, o) {
        const proc = host.ns.spawnNode(o.fixture ?? PEER_FIXTURE, [
          ...['--dir', o.dir, '--broker', LAB_BROKER_URL, '--topic', o.topic],
          ...['--stun', stun, '--host', o.host ?? (options.ipv6 ? '::' : '0.0.0.0')],
          ...(o.share ? ['--share', o.share] : []),
          ...(o.extra ?? []),
        ])
        running.add(proc)
        void proc.exited.then(() => running.delete(proc))
        return proc
      },
      async dirsWhereFirstDials(name) {
        const dx = join(dir, `${name}-x`)
        const kx = hex((await loadOrCreateIdentity(dx)).publicKey)
        for (let i = 0; ; i++) {
          const dy = join(dir, `${name}-y${i}`)
          if (hex((await loadOrCreateIdentity(dy)).publicKey) > kx) return [dx, dy]
        }
      },
      share: (name) => makeShare(join(dir, `shares-${shares++}`), name),
      onStop(fn) {
        stops.push(fn)
      },
      stop,
    }
  } catch (err) {
    await stop()
    throw err
  }
}

/**
 * A share folder `<parent>/<name>` holding `albums/song-of-<name>.flac` (content `<name> sings`),
 * what `browse` expects to find; returns its path.
 */
export async function makeShare(parent: string, name: string): Promise<string> {
  const path = join(parent, name)
  await mkdir(join(path, 'albums'), { recursive: true })
  await writeFile(join(path, 'albums', `song-of-${name}.flac`), `${name} sings`)
  return path
}

/** Sends `command` to a fixture and parses the JSON after its `<first word> ` answer line. */
export async function ask<T>(proc: LabProcess, command: string, timeoutMs = 10_000): Promise<T> {
  const word = command.split(' ')[0]!
  const from = proc.lines.length
  proc.send(command)
  const line = await proc.waitForLine(new RegExp(`^${word}(-error)? `), { after: from, timeoutMs })
  if (line.startsWith(`${word}-error `)) throw new Error(`${command}: ${line}`)
  return JSON.parse(line.slice(word.length + 1)) as T
}

export function peersOf(proc: LabProcess): Promise<PeerInfo[]> {
  return ask<PeerInfo[]>(proc, 'peers')
}

/** `proc`'s doctor entry for the peer `key`; throws unless that peer is connected. */
export async function connectedPeer(proc: LabProcess, key: string): Promise<PeerInfo> {
  const peer = (await peersOf(proc)).find((p) => p.hex === key)
  if (!peer?.connected)
    throw new Error(`${key.slice(0, 8)} is not connected: ${JSON.stringify(peer)}`)
  return peer
}

/**
 * `ready <hex key> <port> <nat>` of a fixture, after `after` lines. 120 s: tsx compiles the
 * fixture and it indexes its share before it joins; on this shared machine (load 20 on 2 cores)
 * that took over 60 s.
 */
export async function readyOf(
  proc: LabProcess,
  after = 0,
): Promise<{ key: string; port: number; nat: string }> {
  const line = await proc.waitForLine(/^ready /, { timeoutMs: 120_000, after })
  const [, key, port, nat] = line.split(' ')
  return { key: key!, port: Number(port), nat: nat! }
}

/**
 * `from` lists the root of the peer `key` (sharing one folder made by `PeerLab.share(name)`),
 * that folder's `albums`, and searches for its song: returns what it saw, for the caller to
 * assert (the shape is fixed, so a mismatch shows which step went wrong).
 */
export async function browse(
  from: LabProcess,
  key: string,
  name: string,
): Promise<{ root: string[]; albums: string[]; hits: string[] }> {
  const root = await ask<string[]>(from, `ls ${key} `)
  const albums = await ask<string[]>(from, `ls ${key} ${name}/albums`)
  const hits = await ask<string[]>(from, `search ${key} song-of-${name}`)
  return { root, albums, hits }
}

/** What `browse` must return for a share made by `PeerLab.share(name)`. */
export function browseOf(name: string): { root: string[]; albums: string[]; hits: string[] } {
  const song = `${name}/albums/song-of-${name}.flac`
  return { root: [name], albums: [song], hits: [song] }
}
