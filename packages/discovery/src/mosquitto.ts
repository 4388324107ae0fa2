import { type ChildProcess, spawn } from 'node:child_process'
import { mkdtemp, rm, writeFile } from 'node:fs/promises'
import { createServer, connect as tcpConnect } from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'

export interface MosquittoOptions {
  /** Fixed port (a restart reuses it). Default: a free one. */
  port?: number
}

/** A Debian mosquitto 2 broker started for a test, on 127.0.0.1 only. */
export interface Mosquitto {
  readonly url: string
  readonly port: number
  readonly pid: number | undefined
  /** SIGKILL, as a crash: no goodbye to clients. */
  kill(): Promise<void>
  /** Starts it again on the same port(s) after `kill()`/`stop()`. */
  restart(): Promise<void>
  stop(): Promise<void>
  [Symbol.asyncDispose](): Promise<void>
}

/** Starts `mosquitto -c <conf>` and waits until it accepts TCP connections. */
export async function startMosquitto(options: MosquittoOptions = {}): Promise<Mosquitto> {
  const dir = await mkdtemp(join(tmpdir(), 'hdp-mosquitto-'))
  const port = options.port ?? (await freeTcpPort())
  const conf = join(dir, 'mosquitto.conf')
  await writeFile(
    conf,
    [
      `listener ${port} 127.0.0.1`,
      'allow_anonymous true',
      'persistence false',
      'log_dest stderr',
      'log_type error',
      '',
    ].join('\n'),
  )
  let child: ChildProcess | undefined
  const launch = async () => {
    const c = spawn('mosquitto', ['-c', conf], { stdio: ['ignore', 'ignore', 'pipe'] })
    let stderr = ''
    c.stderr?.on('data', (d: Buffer) => {
      stderr += d.toString()
    })
    const exited = new Promise<never>((_, reject) => {
      c.once('exit', (code) => reject(new Error(`mosquitto exited (${code}): ${stderr}`)))
      c.once('error', reject)
    })
    exited.catch(() => undefined)
    child = c
    await Promise.race([waitForTcp(port, 5000), exited])
  }
  const end = async (signal: NodeJS.Signals) => {
    const c = child
    child = undefined
    if (!c || c.exitCode !== null || c.signalCode !== null) return
    const gone = new Promise<void>((resolve) => c.once('exit', () => resolve()))
    c.kill(signal)
    const timer = setTimeout(() => c.kill('SIGKILL'), 2000)
    await gone
    clearTimeout(timer)
  }
  await launch()
  const stop = async () => {
    await end('SIGTERM')
    await rm(dir, { recursive: true, force: true })
  }
  return {
    url: `mqtt://127.0.0.1:${port}`,
    port,
    get pid() {
      return child?.pid
    },
    kill: () => end('SIGKILL'),
    restart: launch,
    stop,
    [Symbol.asyncDispose]: stop,
  }
}

/** A TCP port that was free a moment ago on 127.0.0.1. */
export async function freeTcpPort(): Promise<number> {
  const server = createServer()
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  const address = server.address()
  await new Promise<void>((resolve) => server.close(() => resolve()))
  if (typeof address !== 'object' || !address) throw new Error('no port')
  return address.port
}

async function waitForTcp(port: number, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs
  while (true) {
    const ok = await new Promise<boolean>((resolve) => {
      const socket = tcpConnect(port, '127.0.0.1')
      socket.once('connect', () => {
        socket.destroy()
        resolve(true)
      })
      socket.once('error', () => resolve(false))
    })
    if (ok) return
    if (Date.now() > deadline) throw new Error(`nothing listens on 127.0.0.1:${port}`)
    await new Promise((r) => setTimeout(r, 25))
  }
}
