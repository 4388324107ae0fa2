import { type ChildProcess, spawn } from 'node:child_process'
import { once } from 'node:events'
import { mkdtemp, rm, writeFile } from 'node:fs/promises'
import { createServer, connect as tcpConnect } from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { LabProcess } from '@harddrive-party/test-lab'

export const CLI = join(import.meta.dirname, '../dist/cli.js')

/** Loopback only, no STUN, no mDNS, the API on a free port: what every peer here runs with. */
export const LOOPBACK = [
  '--bind',
  '127.0.0.1',
  '--no-stun',
  '--no-mdns',
  // Port mapping is on by default: no SSDP / NAT-PMP from a test to the machine's LAN.
  '--no-port-mapping',
  '--ui-addr',
  '127.0.0.1:0',
]

/** The built command as a child process, stdout read line by line. */
export function startCli(args: readonly string[], env: NodeJS.ProcessEnv = {}): LabProcess {
  return new LabProcess(process.execPath, [CLI, ...args], {
    env: { ...process.env, NO_COLOR: '', ...env },
    label: args[0] ?? 'hdp',
  })
}

/** Runs the command to its end: exit code, stdout and stderr. */
export async function runCli(args: readonly string[], env: NodeJS.ProcessEnv = {}) {
  const p = startCli(args, env)
  const status = await p.exited
  // The last stdout lines may still be in the reader when the exit event fires.
  await new Promise((r) => setTimeout(r, 50))
  return { code: status.code, stdout: p.lines.join('\n'), stderr: p.stderr }
}

export async function freeTcpPort(): Promise<number> {
  const server = createServer().listen(0, '127.0.0.1')
  await once(server, 'listening')
  const { port } = server.address() as { port: number }
  server.close()
  return port
}

/** A mosquitto broker on 127.0.0.1 for one test file; stopped by its PID. */
export async function startMosquitto(): Promise<{ url: string; stop(): Promise<void> }> {
  const dir = await mkdtemp(join(tmpdir(), 'hdp-cli-mosquitto-'))
  const port = await freeTcpPort()
  const conf = join(dir, 'mosquitto.conf')
  await writeFile(conf, `listener ${port} 127.0.0.1\nallow_anonymous true\npersistence false\n`)
  const child: ChildProcess = spawn('mosquitto', ['-c', conf], { stdio: 'ignore' })
  const exited = once(child, 'exit')
  for (let i = 0; i < 100; i++) {
    const ok = await new Promise<boolean>((resolve) => {
      const s = tcpConnect(port, '127.0.0.1')
      s.once('connect', () => resolve(s.end() !== undefined))
      s.once('error', () => resolve(false))
    })
    if (ok) break
    await new Promise((r) => setTimeout(r, 50))
  }
  return {
    url: `mqtt://127.0.0.1:${port}`,
    async stop() {
      if (child.exitCode === null && child.pid !== undefined) process.kill(child.pid, 'SIGTERM')
      await exited
      await rm(dir, { recursive: true, force: true })
    },
  }
}
