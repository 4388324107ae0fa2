// The carrier move's lab (carrier-move-lab.test.ts, bench/carrier-move.ts): two peer nodes in
// network namespaces joined by test-lab's link emulator at 1 ms RTT, a mosquitto between them,
// and a 64 MiB file to download over a link shaped per run.
import { createHash, randomBytes } from 'node:crypto'
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { peerName } from '@harddrive-party/peer-node'
import {
  type LabProcess,
  LinkLab,
  type LinkShape,
  linkLabSupport,
  skipReason,
} from '@harddrive-party/test-lab'
import { loadOrCreateIdentity } from '@harddrive-party/transport'

const fixture = join(import.meta.dirname, 'fixtures/download-peer.ts')
const BROKER_PORT = 1883
export const MOVE_LAB_FILE_BYTES = 64 * 1024 * 1024
export const LOSSY: LinkShape = { rateBitsPerSecond: 0, delayMs: 0.5, loss: 0.02 }
export const CLEAN: LinkShape = { rateBitsPerSecond: 0, delayMs: 0.5, loss: 0 }
/** Clean but slower than the move's 100 Mbit/s: TCP fills it, so moving would gain nothing. */
export const SLOW_CLEAN: LinkShape = { rateBitsPerSecond: 60_000_000, delayMs: 0.5, loss: 0 }
const hex = (key: Uint8Array) => Buffer.from(key).toString('hex')
const sha256 = (data: Buffer) => createHash('sha256').update(data).digest('hex')

/** Why the lab cannot run here ('' when it can). */
export function moveLabSkipReason(): string {
  const support = linkLabSupport()
  return support.ok ? '' : skipReason(support)
}

export interface MoveRun {
  /** The downloader's carriers to the sharer over time (`tcp`, then `udx` after a move). */
  carriers: string[]
  /** The carrier when the download was done. */
  now: string | undefined
  seconds: number
  /** Whether the downloaded file's sha256 equals the source's. */
  intact: boolean
  log: string
  sharerLog: string
}

export interface MoveLab {
  /**
   * One download of the file over `shape`: the sharer in `b`, the downloader (the lower key: it
   * dials) in `a`, connected over TCP on a clean link first; the download starts `waitMs` after
   * the link took `shape`. `move: false` turns the carrier move off in the downloader.
   */
  download(shape: LinkShape, move: boolean, waitMs?: number): Promise<MoveRun>
  destroy(): Promise<void>
}

export async function createMoveLab(): Promise<MoveLab> {
  const data = randomBytes(MOVE_LAB_FILE_BYTES)
  const lab = await LinkLab.create(CLEAN, { prefix: 'hdpmv' })
  let broker: LabProcess | undefined
  let dir: string | undefined
  try {
    // Fixed neighbour entries: an ARP exchange in front of the race's TCP connect would count
    // in its round trip (the race takes TCP only under 5 ms).
    const mac = async (ns: typeof lab.a) =>
      (await ns.exec('cat', ['/sys/class/net/eth0/address'])).trim()
    const [macA, macB] = [await mac(lab.a), await mac(lab.b)]
    for (const [ns, address, lladdr] of [
      [lab.a, lab.bAddress, macB],
      [lab.b, lab.aAddress, macA],
    ] as const) {
      const entry = [address, 'lladdr', lladdr, 'nud', 'permanent', 'dev', 'eth0']
      await ns.exec('ip', ['neigh', 'replace', ...entry])
    }
    dir = await mkdtemp(join(tmpdir(), 'hdp-carrier-move-'))
    const conf = join(dir, 'mosquitto.conf')
    await writeFile(
      conf,
      `listener ${BROKER_PORT} ${lab.aAddress}\nallow_anonymous true\npersistence false\n`,
    )
    broker = lab.a.spawn('mosquitto', ['-c', conf])
    await mkdir(join(dir, 'share'))
    await writeFile(join(dir, 'share', 'film.mkv'), data)
  } catch (err) {
    await broker?.stop(1000)
    await lab.destroy()
    if (dir) await rm(dir, { recursive: true, force: true })
    throw err
  }
  const root = dir
  const share = join(root, 'share')
  let round = 0

  async function download(shape: LinkShape, move: boolean, waitMs = 0): Promise<MoveRun> {
    // Connected on a clean link (a lossy TCP handshake may lose the race to UDX, a retransmit
    // takes 200 ms or more), then the loss starts, as on Wi-Fi that degrades.
    await lab.reshape(CLEAN)
    const n = round++
    const [low, high] = await keyPair(join(root, `r${n}`))
    const topic = `carrier move ${n}`
    const common = ['--broker', `mqtt://${lab.aAddress}:${BROKER_PORT}`, '--topic', topic]
    const env = {
      ...process.env,
      DEBUG: process.env.MOVE_LAB_DEBUG ?? 'hdp:peer-node:connections*',
    }
    const sharer = lab.b.spawnNode(
      fixture,
      [...['--dir', high, '--share', share, '--host', '0.0.0.0', '--lan', lab.bAddress], ...common],
      { env, label: 'sharer' },
    )
    const downloads = join(root, `downloads-${n}`)
    const downloader = lab.a.spawnNode(
      fixture,
      [
        ...['--dir', low, '--downloads', downloads, '--host', '0.0.0.0', '--lan', lab.aAddress],
        ...(move ? [] : ['--move', '0']),
        ...common,
      ],
      { env, label: 'downloader' },
    )
    try {
      const key = (await sharer.waitForLine(/^ready /, { timeoutMs: 120_000 })).split(' ')[1]!
      // The race takes TCP when its connect took under 5 ms; the emulator's own wake-ups make
      // 1 ms of RTT 2-9 ms now and then (more on a loaded machine), so the race may take UDX:
      // then the connection is cut and dialled again, until TCP.
      let first = await downloader.waitForLine(`connect ${key}`, { timeoutMs: 120_000 })
      for (let tries = 1; first !== `connect ${key} tcp` && tries < 20; tries++) {
        const from = downloader.lines.length
        downloader.send('cut')
        first = await downloader.waitForLine(`connect ${key}`, { after: from, timeoutMs: 60_000 })
      }
      if (first !== `connect ${key} tcp`) throw new Error(`no TCP connection in 20 dials: ${first}`)
      await lab.reshape(shape)
      await new Promise((resolve) => setTimeout(resolve, waitMs))
      downloader.send(`download ${key} share/film.mkv`)
      const id = (await downloader.waitForLine(/^added /, { timeoutMs: 30_000 })).split(' ')[1]!
      const startedAt = Date.now()
      await downloader.waitForLine(`done ${id}`, { timeoutMs: 240_000 })
      const seconds = (Date.now() - startedAt) / 1000
      const local = join(downloads, peerName(Buffer.from(key, 'hex')), 'share', 'film.mkv')
      const intact = sha256(await readFile(local)) === sha256(data)
      const from = downloader.lines.length
      downloader.send('peers')
      const now = (await downloader.waitForLine(/^peers /, { after: from })).split(' ')[1]
      const carriers = downloader.lines
        .slice(downloader.lines.indexOf(first))
        .filter((l) => l.startsWith(`connect ${key} `))
        .map((l) => l.split(' ')[2]!)
      return { carriers, now, seconds, intact, log: downloader.stderr, sharerLog: sharer.stderr }
    } finally {
      await Promise.allSettled([downloader.stop(3000), sharer.stop(3000)])
    }
  }

  return {
    download,
    async destroy() {
      await broker?.stop(1000)
      await lab.destroy()
      await rm(root, { recursive: true, force: true })
    },
  }
}

/** Two storage dirs under `parent`, the first holding the lower key (the dialler). */
async function keyPair(parent: string): Promise<[string, string]> {
  const x = join(parent, 'x')
  const kx = hex((await loadOrCreateIdentity(x)).publicKey)
  for (let i = 0; ; i++) {
    const y = join(parent, `y${i}`)
    if (hex((await loadOrCreateIdentity(y)).publicKey) > kx) return [x, y]
  }
}
