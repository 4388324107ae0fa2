import { randomBytes } from 'node:crypto'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { LabProcess, type LabProcessOptions } from './process'
import { hasCommand, run, runSync } from './run'

export type Support = { ok: true; reason?: undefined } | { ok: false; reason: string }

let cached: Support | undefined

/**
 * Whether this process can build network namespaces: root, `ip` and `iptables` present, and
 * a namespace can really be created. The reason says what is missing, for the skip message.
 */
export function netnsSupport(): Support {
  if (cached) return cached
  cached = probe()
  return cached
}

function probe(): Support {
  if (process.platform !== 'linux') return { ok: false, reason: 'network namespaces need Linux' }
  if (process.getuid?.() !== 0)
    return { ok: false, reason: 'network namespaces need root (CI runs as root)' }
  for (const c of ['ip', 'iptables']) {
    if (!hasCommand(c))
      return { ok: false, reason: `${c} is not installed (apt-get install iproute2 iptables)` }
  }
  const name = `hdpprobe${process.pid}${randomBytes(2).toString('hex')}`
  try {
    runSync('ip', ['netns', 'add', name])
    runSync('ip', ['netns', 'del', name])
    return { ok: true }
  } catch (err) {
    return {
      ok: false,
      reason: `cannot create a network namespace: ${(err as Error).message.split('\n')[0]}`,
    }
  }
}

/** Message to print when a lab test skips. */
export function skipReason(support: Support = netnsSupport()): string {
  return support.ok ? '' : `skipped: ${support.reason}`
}

/** One network namespace of a lab. */
export class Namespace {
  constructor(
    readonly lab: Lab,
    /** Short name inside the lab (`a`, `natA`). */
    readonly name: string,
    /** Full namespace name (`<prefix>-<name>`). */
    readonly netns: string,
  ) {}

  /** Runs a command inside the namespace and returns its stdout. */
  exec(command: string, args: readonly string[] = []): Promise<string> {
    return run('ip', ['netns', 'exec', this.netns, command, ...args])
  }

  /** Starts a long-running command inside the namespace (its PID is the command's own). */
  spawn(
    command: string,
    args: readonly string[] = [],
    options: LabProcessOptions = {},
  ): LabProcess {
    const p = new LabProcess('ip', ['netns', 'exec', this.netns, command, ...args], {
      label: this.name,
      ...options,
    })
    this.lab.track(p)
    return p
  }

  /** Runs a TypeScript (or JS) file with Node inside the namespace, workspace packages resolving to source. */
  spawnNode(
    file: string,
    args: readonly string[] = [],
    options: LabProcessOptions = {},
  ): LabProcess {
    return this.spawn(process.execPath, [...tsNodeArgs(), file, ...args], options)
  }
}

/** Node flags that run a `.ts` file with workspace packages resolved to their sources. */
export function tsNodeArgs(): string[] {
  return ['--import', 'tsx', '--conditions=@harddrive-party/source']
}

/** Starts a TypeScript file as a child process outside any namespace (same flags as spawnNode). */
export function spawnNode(
  file: string,
  args: readonly string[] = [],
  options: LabProcessOptions = {},
): LabProcess {
  return new LabProcess(process.execPath, [...tsNodeArgs(), file, ...args], options)
}

export interface LabOptions {
  /** Namespace name prefix; default a unique `hl<pid><random>`. Keep it short (≤ 10 chars). */
  prefix?: string
}

/**
 * A set of network namespaces with a unique prefix. Everything it creates is removed by
 * {@link Lab.destroy} (and at process exit), including the processes started inside.
 */
export class Lab {
  readonly prefix: string
  /** A temp directory for this lab's files (pid files, logs, fixtures' exchange files). */
  readonly dir: string
  readonly #namespaces = new Map<string, Namespace>()
  readonly #processes = new Set<LabProcess>()
  #destroyed = false

  constructor(options: LabOptions = {}) {
    this.prefix = options.prefix ?? `hl${process.pid % 100000}${randomBytes(2).toString('hex')}`
    this.dir = mkdtempSync(join(tmpdir(), `${this.prefix}-`))
    liveLabs.add(this)
  }

  get namespaces(): Namespace[] {
    return [...this.#namespaces.values()]
  }

  ns(name: string): Namespace {
    const n = this.#namespaces.get(name)
    if (!n) throw new Error(`no namespace ${name} in lab ${this.prefix}`)
    return n
  }

  /** Creates a namespace with loopback up. */
  async addNamespace(name: string): Promise<Namespace> {
    if (this.#destroyed) throw new Error('lab destroyed')
    const netns = `${this.prefix}-${name}`
    await run('ip', ['netns', 'add', netns])
    const ns = new Namespace(this, name, netns)
    this.#namespaces.set(name, ns)
    await ns.exec('ip', ['link', 'set', 'lo', 'up'])
    return ns
  }

  /**
   * Joins two namespaces with a veth pair (`aIf` in `a`, `bIf` in `b`), gives each end an
   * address in CIDR form (or none) and brings both up.
   */
  async link(
    a: Namespace,
    aIf: string,
    aAddr: string | undefined,
    b: Namespace,
    bIf: string,
    bAddr: string | undefined,
  ): Promise<void> {
    await run('ip', [
      '-n',
      a.netns,
      'link',
      'add',
      aIf,
      'type',
      'veth',
      'peer',
      'name',
      bIf,
      'netns',
      b.netns,
    ])
    if (aAddr) await a.exec('ip', ['addr', 'add', aAddr, 'dev', aIf])
    if (bAddr) await b.exec('ip', ['addr', 'add', bAddr, 'dev', bIf])
    await a.exec('ip', ['link', 'set', aIf, 'up'])
    await b.exec('ip', ['link', 'set', bIf, 'up'])
  }

  /** Registers a process so destroy() ends it. */
  track(p: LabProcess): void {
    this.#processes.add(p)
    void p.exited.then(() => this.#processes.delete(p))
  }

  /** Ends every process the lab started (by PID) and deletes its namespaces. Idempotent. */
  async destroy(): Promise<void> {
    if (this.#destroyed) return
    this.#destroyed = true
    liveLabs.delete(this)
    await Promise.allSettled([...this.#processes].map((p) => p.stop(1000)))
    for (const ns of this.#namespaces.values()) {
      // Deleting a namespace does not end processes inside it; only ours can be there.
      const pids = (await run('ip', ['netns', 'pids', ns.netns]).catch(() => ''))
        .split(/\s+/)
        .filter(Boolean)
      for (const pid of pids) {
        try {
          process.kill(Number(pid), 'SIGKILL')
        } catch {
          // gone
        }
      }
      await run('ip', ['netns', 'del', ns.netns]).catch(() => {})
    }
    rmSync(this.dir, { recursive: true, force: true })
  }

  /** Synchronous teardown for process exit. */
  destroySync(): void {
    if (this.#destroyed) return
    this.#destroyed = true
    for (const p of this.#processes) p.kill('SIGKILL')
    for (const ns of this.#namespaces.values()) {
      try {
        for (const pid of runSync('ip', ['netns', 'pids', ns.netns]).split(/\s+/).filter(Boolean)) {
          process.kill(Number(pid), 'SIGKILL')
        }
      } catch {
        // gone
      }
      try {
        runSync('ip', ['netns', 'del', ns.netns])
      } catch {
        // gone
      }
    }
    rmSync(this.dir, { recursive: true, force: true })
  }

  async [Symbol.asyncDispose](): Promise<void> {
    await this.destroy()
  }
}

const liveLabs = new Set<Lab>()
process.once('exit', () => {
  for (const lab of liveLabs) lab.destroySync()
})
for (const signal of ['SIGINT', 'SIGTERM'] as const) {
  process.once(signal, () => {
    for (const lab of liveLabs) lab.destroySync()
    process.exit(130)
  })
}
