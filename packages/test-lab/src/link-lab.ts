import { createHash } from 'node:crypto'
import { once } from 'node:events'
import { existsSync, mkdirSync, readFileSync, renameSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { Lab, type Namespace, netnsSupport, type Support } from './namespaces'
import type { LabProcess } from './process'
import { hasCommand, run } from './run'

/** One direction of an emulated link. */
export interface LinkDirection {
  /** Bottleneck rate in bit/s (0: unlimited). */
  rateBitsPerSecond: number
  /** One-way propagation delay in ms (on top of the time to serialise at the rate). */
  delayMs: number
  /** Probability that a packet is lost at random (0.005 = 0.5 %). */
  loss: number
}

/** The emulator's counters per direction and its own cost, reported when it stops. */
export interface EmulatorReport {
  aToB: LinkCounters
  bToA: LinkCounters
  cost: EmulatorCost
}

/** A link's shape: the same both ways, or each direction on its own. */
export type LinkShape = LinkDirection | { aToB: LinkDirection; bToA: LinkDirection }

/** Counters of one direction since the emulator (re)started. */
export interface LinkCounters {
  forwarded: number
  bytes: number
  lost: number
  /** Dropped because the rate queue was full (the bottleneck's buffer). */
  tailDropped: number
  /** Frames too large to forward (segmentation offload left on): should stay 0. */
  tooBig: number
  /** Mean time packets left after they were due, in µs (the emulator's own wake-up lag). */
  lateMicrosMean: number
  /** Packets that left more than 1 ms after they were due. */
  lateOver1ms: number
}

/** What the emulator itself cost while it ran. */
export interface EmulatorCost {
  cpuMs: number
  wallMs: number
  /** Times its loop woke up (each a poll plus receives and sends). */
  wakeups: number
}

const SOURCE = fileURLToPath(new URL('../native/link-emulator.c', import.meta.url))
/** Addresses of the two ends, on one subnet: the emulator forwards frames, not routes. */
const A_ADDRESS = '10.99.77.1'
const B_ADDRESS = '10.99.77.2'

/** Whether a link lab can run here: network namespaces, and a C compiler for the emulator. */
export function linkLabSupport(): Support {
  const netns = netnsSupport()
  if (!netns.ok) return netns
  if (!hasCommand('gcc')) return { ok: false, reason: 'gcc is not installed (apt-get install gcc)' }
  return { ok: true }
}

let built: Promise<string> | undefined

/** Compiles the emulator once per source version (cached in the temp directory). */
export function buildLinkEmulator(): Promise<string> {
  built ??= (async () => {
    const source = readFileSync(SOURCE)
    const hash = createHash('sha256').update(source).digest('hex').slice(0, 16)
    const dir = join(tmpdir(), 'hdp-link-emulator')
    const binary = join(dir, `link-emulator-${hash}`)
    if (existsSync(binary)) return binary
    mkdirSync(dir, { recursive: true })
    const partial = `${binary}.${process.pid}`
    await run('gcc', ['-O2', '-Wall', '-o', partial, SOURCE])
    renameSync(partial, binary) // atomic: parallel builders never run a half-written file
    return binary
  })()
  return built
}

/**
 * Two namespaces, `a` (10.99.77.1) and `b` (10.99.77.2), joined through a third that runs a
 * userspace link emulator: every frame crosses a per-direction model of random loss, a
 * rate-limited FIFO (tail drop at about one bandwidth-delay product) and a one-way delay.
 * Segmentation offload is off on both ends, so the emulator sees wire-sized packets and
 * TCP's and UDP's packets meet the same link.
 */
export class LinkLab {
  readonly lab: Lab
  readonly a: Namespace
  readonly b: Namespace
  readonly aAddress = A_ADDRESS
  readonly bAddress = B_ADDRESS
  readonly #middle: Namespace
  readonly #binary: string
  #emulator: LabProcess | undefined
  #shape: { aToB: LinkDirection; bToA: LinkDirection }

  private constructor(lab: Lab, a: Namespace, b: Namespace, middle: Namespace, binary: string) {
    this.lab = lab
    this.a = a
    this.b = b
    this.#middle = middle
    this.#binary = binary
    this.#shape = { aToB: unlimited(), bToA: unlimited() }
  }

  /**
   * `tcpCongestionControl` (default `cubic`, what desktops run) is set in both ends: a new
   * namespace inherits the host's, and BBR (this machine's) ignores random loss.
   */
  static async create(
    shape: LinkShape,
    options: { prefix?: string; tcpCongestionControl?: string } = {},
  ): Promise<LinkLab> {
    const binary = await buildLinkEmulator()
    const lab = new Lab(options.prefix === undefined ? {} : { prefix: options.prefix })
    try {
      const a = await lab.addNamespace('a')
      const b = await lab.addNamespace('b')
      const middle = await lab.addNamespace('m')
      await lab.link(a, 'eth0', `${A_ADDRESS}/24`, middle, 'toa', undefined)
      await lab.link(b, 'eth0', `${B_ADDRESS}/24`, middle, 'tob', undefined)
      for (const end of [a, b]) {
        // One MSS per packet: the emulator's loss and queue act on wire-sized packets.
        await end.exec('ip', ['link', 'set', 'eth0', 'gso_max_segs', '1', 'gso_max_size', '1500'])
      }
      // Per route: a namespace may not pick a congestion control the host does not allow.
      const congctl = options.tcpCongestionControl ?? 'cubic'
      for (const [end, address] of [
        [a, A_ADDRESS],
        [b, B_ADDRESS],
      ] as const) {
        await end.exec('ip', [
          'route',
          'replace',
          '10.99.77.0/24',
          'dev',
          'eth0',
          'scope',
          'link',
          'src',
          address,
          'congctl',
          congctl,
        ])
      }
      const linkLab = new LinkLab(lab, a, b, middle, binary)
      await linkLab.reshape(shape)
      return linkLab
    } catch (err) {
      await lab.destroy()
      throw err
    }
  }

  get shape(): { aToB: LinkDirection; bToA: LinkDirection } {
    return this.#shape
  }

  /** Restarts the emulator with a new shape; returns the counters of the old one. */
  async reshape(shape: LinkShape): Promise<EmulatorReport | undefined> {
    const old = await this.#stopEmulator()
    const { aToB, bToA } = 'aToB' in shape ? shape : { aToB: shape, bToA: shape }
    this.#shape = { aToB, bToA }
    const queueBytes = Math.max(queueFor(aToB), queueFor(bToA))
    // Above other work on a loaded machine: a late wake-up would add delay and bursts.
    const p = this.#middle.spawn('nice', [
      '-n',
      '-10',
      this.#binary,
      'toa',
      'tob',
      String(aToB.rateBitsPerSecond),
      String(Math.round(aToB.delayMs * 1000)),
      String(aToB.loss),
      String(bToA.rateBitsPerSecond),
      String(Math.round(bToA.delayMs * 1000)),
      String(bToA.loss),
      String(queueBytes),
      String(1 + Math.floor(Math.random() * 2 ** 31)),
    ])
    await p.waitForLine(/^ready/)
    this.#emulator = p
    return old
  }

  /** Stops the emulator (the link goes dark) and returns its counters. */
  async stopEmulator(): Promise<EmulatorReport | undefined> {
    return this.#stopEmulator()
  }

  async #stopEmulator() {
    const p = this.#emulator
    if (p === undefined) return undefined
    this.#emulator = undefined
    await p.stop(2000)
    const stdout = p.child.stdout
    // The counters line may still be in the pipe when the exit event fires.
    if (stdout !== null && !stdout.closed) await once(stdout, 'close')
    const reader = (tag: string) => {
      const line = p.lines.find((l) => l.startsWith(`${tag} `)) ?? ''
      return (key: string) => Number(new RegExp(`${key}=(\\d+)`).exec(line)?.[1] ?? Number.NaN)
    }
    const counters = (tag: string): LinkCounters => {
      const n = reader(tag)
      return {
        forwarded: n('forwarded'),
        bytes: n('bytes'),
        lost: n('lost'),
        tailDropped: n('tail_dropped'),
        tooBig: n('too_big'),
        lateMicrosMean: n('late_us_mean'),
        lateOver1ms: n('late_over_1ms'),
      }
    }
    const cpu = reader('cpu')
    return {
      aToB: counters('ab'),
      bToA: counters('ba'),
      cost: { cpuMs: cpu('cpu_ms'), wallMs: cpu('wall_ms'), wakeups: cpu('wakeups') },
    }
  }

  async destroy(): Promise<void> {
    this.#emulator = undefined
    await this.lab.destroy()
  }

  async [Symbol.asyncDispose](): Promise<void> {
    await this.destroy()
  }
}

/**
 * UDP counters of a namespace from /proc/net/snmp (`RcvbufErrors`: datagrams the kernel
 * dropped because a socket's receive buffer was full).
 */
export async function udpCounters(ns: Namespace): Promise<Record<string, number>> {
  const text = await ns.exec('cat', ['/proc/net/snmp'])
  const rows = text.split('\n').filter((l) => l.startsWith('Udp:'))
  const names = rows[0]?.split(/\s+/).slice(1) ?? []
  const values = rows[1]?.split(/\s+/).slice(1) ?? []
  return Object.fromEntries(names.map((name, i) => [name, Number(values[i])]))
}

function unlimited(): LinkDirection {
  return { rateBitsPerSecond: 0, delayMs: 0, loss: 0 }
}

/**
 * The bottleneck's buffer: one bandwidth-delay product, as a home router might have, and at
 * least 256 KiB so the emulator's own wake-up jitter on a loaded machine causes no drops.
 */
function queueFor(d: LinkDirection): number {
  if (d.rateBitsPerSecond === 0) return 64 * 1024 * 1024
  const bdp = (d.rateBitsPerSecond / 8) * ((2 * d.delayMs) / 1000)
  return Math.max(256 * 1024, Math.round(bdp))
}
