import { type ChildProcess, spawn } from 'node:child_process'
import { once } from 'node:events'
import { createInterface } from 'node:readline'

export interface LabProcessOptions {
  env?: NodeJS.ProcessEnv
  cwd?: string
  /** Prefix for the process's stderr lines when `DEBUG_LAB` is set. */
  label?: string
}

export interface ExitStatus {
  code: number | null
  signal: NodeJS.Signals | null
}

/**
 * A child process whose stdout is read line by line. Fixtures print readiness markers
 * (`ready 10.0.0.2:4000`) that tests wait for with {@link LabProcess.waitForLine}.
 */
export class LabProcess {
  readonly child: ChildProcess
  readonly pid: number
  readonly exited: Promise<ExitStatus>
  /** Every stdout line so far. */
  readonly lines: string[] = []
  #stderr = ''
  readonly #waiters = new Set<{
    test: (line: string) => boolean
    resolve: (line: string) => void
  }>()

  constructor(command: string, args: readonly string[], options: LabProcessOptions = {}) {
    this.child = spawn(command, args, {
      env: options.env ?? process.env,
      cwd: options.cwd,
      stdio: ['pipe', 'pipe', 'pipe'],
    })
    if (this.child.pid === undefined) throw new Error(`could not start ${command}`)
    this.pid = this.child.pid
    liveProcesses.add(this.pid)
    this.exited = once(this.child, 'exit').then(([code, signal]) => {
      liveProcesses.delete(this.pid)
      return { code: code as number | null, signal: signal as NodeJS.Signals | null }
    })
    this.child.stdin?.on('error', () => {})
    createInterface({ input: this.child.stdout! }).on('line', (line) => {
      this.lines.push(line)
      for (const w of this.#waiters) {
        if (w.test(line)) {
          this.#waiters.delete(w)
          w.resolve(line)
        }
      }
    })
    this.child.stderr!.on('data', (d: Buffer) => {
      this.#stderr += d.toString()
      if (this.#stderr.length > 256_000) this.#stderr = this.#stderr.slice(-128_000)
      if (process.env.DEBUG_LAB) process.stderr.write(`[${options.label ?? this.pid}] ${d}`)
    })
  }

  /** Everything the process wrote to stderr (the last 128 KiB at least). */
  get stderr(): string {
    return this.#stderr
  }

  /**
   * Resolves with the first stdout line (already seen or future) matching `pattern`.
   * Rejects when the process exits first or after `timeoutMs`, with its stderr in the message.
   */
  async waitForLine(
    pattern: RegExp | string,
    options: { timeoutMs?: number; after?: number } = {},
  ): Promise<string> {
    const test = (line: string) =>
      typeof pattern === 'string' ? line.includes(pattern) : pattern.test(line)
    const seen = this.lines.slice(options.after ?? 0).find(test)
    if (seen !== undefined) return seen
    const timeoutMs = options.timeoutMs ?? 20_000
    let waiter: { test: (line: string) => boolean; resolve: (line: string) => void } | undefined
    let timer: NodeJS.Timeout | undefined
    try {
      return await Promise.race([
        new Promise<string>((resolve) => {
          waiter = { test, resolve }
          this.#waiters.add(waiter)
        }),
        this.exited.then((s) => {
          throw new Error(
            `process ${this.pid} exited (${s.code ?? s.signal}) before printing ${pattern}\n${this.#stderr.slice(-4000)}`,
          )
        }),
        new Promise<never>((_, reject) => {
          timer = setTimeout(
            () =>
              reject(
                new Error(
                  `timed out after ${timeoutMs} ms waiting for ${pattern} from ${this.pid}\nstdout: ${this.lines.slice(-20).join('\n')}\nstderr: ${this.#stderr.slice(-4000)}`,
                ),
              ),
            timeoutMs,
          )
        }),
      ])
    } finally {
      if (waiter) this.#waiters.delete(waiter)
      clearTimeout(timer)
    }
  }

  /** Writes one line to the process's stdin. */
  send(line: string): void {
    this.child.stdin?.write(`${line}\n`)
  }

  /** Sends `signal` (default SIGTERM) to this process only, by PID. */
  kill(signal: NodeJS.Signals = 'SIGTERM'): void {
    if (liveProcesses.has(this.pid)) {
      try {
        process.kill(this.pid, signal)
      } catch {
        // already gone
      }
    }
  }

  /** Ends the process: SIGTERM, then SIGKILL after `graceMs`. */
  async stop(graceMs = 2000): Promise<ExitStatus> {
    if (!liveProcesses.has(this.pid)) return this.exited
    this.kill('SIGTERM')
    const timer = setTimeout(() => this.kill('SIGKILL'), graceMs)
    try {
      return await this.exited
    } finally {
      clearTimeout(timer)
    }
  }
}

/** PIDs of lab processes still running, so an exiting test process can end them. */
export const liveProcesses = new Set<number>()

process.once('exit', () => {
  for (const pid of liveProcesses) {
    try {
      process.kill(pid, 'SIGKILL')
    } catch {
      // already gone
    }
  }
})
