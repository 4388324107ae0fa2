import { spawn } from 'node:child_process'
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import type { LabProcess } from '@harddrive-party/test-lab'
import { hasCommand } from '@harddrive-party/test-lab'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { CLI, freeTcpPort, LOOPBACK, runCli, startCli, startMosquitto } from './helpers'

const dir = mkdtempSync(join(tmpdir(), 'hdp-cli-start-'))
let broker: Awaited<ReturnType<typeof startMosquitto>>
const running: LabProcess[] = []

beforeAll(async () => {
  broker = await startMosquitto()
})
afterAll(async () => {
  await Promise.all(running.map((p) => p.stop(5000)))
  await broker.stop()
  rmSync(dir, { recursive: true, force: true })
})

function peer(args: string[]): LabProcess {
  const p = startCli(['start', ...args, ...LOOPBACK, '--mqtt-server', broker.url])
  running.push(p)
  return p
}

async function identity(p: LabProcess): Promise<{ name: string; short: string }> {
  const line = await p.waitForLine(/^we are \S+ \([0-9a-f]{8}\)/, { timeoutMs: 60_000 })
  const [, name, short] = /^we are (\S+) \(([0-9a-f]{8})\)/.exec(line)!
  return { name: name!, short: short! }
}

// Each peer is a new Node process: seconds to load on a machine busy with other tests.
describe('harddrive-party start', { timeout: 120_000 }, () => {
  it('two peers meet on a topic, say who connected and left; a bare start brings topics and shares back', async () => {
    const films = join(dir, 'films')
    mkdirSync(join(films, 'noir'), { recursive: true })
    writeFileSync(join(films, 'noir', 'a.mkv'), Buffer.alloc(3000, 1))
    writeFileSync(join(films, 'b.txt'), 'hello')
    const aliceStorage = join(dir, 'alice')
    const bobStorage = join(dir, 'bob')
    const bobShare = join(dir, 'bob-share-not-there-yet')

    const alice = peer(['--storage', aliceStorage, '-t', 'movie night', '--share-dir', films])
    const a = await identity(alice)
    // Tests never ask the machine's router (LOOPBACK has --no-port-mapping).
    await alice.waitForLine('port mapping: off (--no-port-mapping)')
    await alice.waitForLine('topics: "movie night"')
    await alice.waitForLine(/^sharing films: .*films 2 files, 3 kB$/)
    await alice.waitForLine(/^shared in total: 2 files, 3 kB, scanned in [\d.]+m?s$/)
    await alice.waitForLine(`broker: online (connected to ${broker.url})`)
    await alice.waitForLine('ready: ')

    const bob = peer(['--storage', bobStorage, '--topic', 'movie night', '-s', bobShare])
    await bob.waitForLine(`created ${bobShare} (it did not exist`)
    const b = await identity(bob)
    await bob.waitForLine(
      new RegExp(`^\\+ ${a.name} \\(${a.short}\\) connected via .* on "movie night"$`),
    )
    await alice.waitForLine(new RegExp(`^\\+ ${b.name} \\(${b.short}\\) connected`))
    await bob.waitForLine('sharing bob-share-not-there-yet: ')

    // The storage directory is locked: a second peer on it is refused in one line.
    const twice = await runCli(['start', '--storage', aliceStorage, ...LOOPBACK, '--no-mqtt'])
    expect(twice.code).toBe(1)
    expect(twice.stderr.trim()).toBe(
      `harddrive-party: a peer is already running with storage ${aliceStorage} (stop it first, or use another --storage)`,
    )

    // SIGINT stops bob cleanly; alice says he left.
    bob.kill('SIGINT')
    expect((await bob.exited).code).toBe(0)
    expect(bob.lines).toContain('stopped')
    await alice.waitForLine(new RegExp(`^- ${b.name} \\(${b.short}\\) left`))

    // A bare start: the same identity, topic and share, and alice again.
    const again = peer(['--storage', bobStorage])
    expect(await identity(again)).toEqual(b)
    await again.waitForLine('topics: "movie night"')
    await again.waitForLine('sharing bob-share-not-there-yet: ')
    await again.waitForLine(new RegExp(`^\\+ ${a.name} \\(${a.short}\\) connected`))
    again.kill('SIGTERM')
    expect((await again.exited).code).toBe(0)
    alice.kill('SIGTERM')
    expect((await alice.exited).code).toBe(0)
    // Piped stdout: no colours anywhere.
    expect(alice.lines.join('\n')).not.toContain('\u001b[')
  })

  it('an unreachable broker is said once, and the peer still runs', async () => {
    const closed = await freeTcpPort()
    const p = startCli([
      'start',
      '--storage',
      join(dir, 'lonely'),
      '-t',
      'x',
      ...LOOPBACK,
      '--mqtt-server',
      `mqtt://127.0.0.1:${closed}`,
    ])
    running.push(p)
    await p.waitForLine('ready: 0 peers connected', { timeoutMs: 60_000 })
    await p.waitForLine(/^broker: offline \(.*unreachable.*retrying/)
    // Several retries happen in this time (backoff starts at 1 s); the line is not repeated.
    await new Promise((r) => setTimeout(r, 4000))
    expect(p.lines.filter((l) => l.startsWith('broker: offline'))).toHaveLength(1)
    p.kill('SIGINT')
    expect((await p.exited).code).toBe(0)
  })

  it('Ctrl-C while it is still starting stops it cleanly, not as a failure', async () => {
    // A STUN server that never answers keeps the start in NAT detection (up to 10 s): the
    // signal lands mid-start. It used to end with "This operation was aborted" and code 1.
    const p = startCli([
      'start',
      '--storage',
      join(dir, 'interrupted'),
      '--bind',
      '127.0.0.1',
      '--stun-server',
      '127.0.0.1:9',
      '--no-mdns',
      '--no-port-mapping',
      '--ui-addr',
      '127.0.0.1:0',
      '--no-mqtt',
    ])
    running.push(p)
    await p.waitForLine(/^starting: storage /, { timeoutMs: 60_000 })
    p.kill('SIGINT')
    expect(await p.exited).toEqual({ code: 0, signal: null })
    await new Promise((r) => setTimeout(r, 50)) // the last lines may still be in the reader
    expect(p.lines).toContain('stopped')
    expect(p.lines.some((l) => l.startsWith('ready: '))).toBe(false)
    expect(p.stderr).not.toContain('aborted')
  })

  it.runIf(hasCommand('script'))(
    'colours on a terminal; Ctrl-C on the terminal stops it cleanly',
    async () => {
      const storage = join(dir, 'tty')
      const args = ['start', '--storage', storage, ...LOOPBACK, '--no-mqtt']
      const command = [process.execPath, CLI, ...args].map((a) => `'${a}'`).join(' ')
      // `script` gives the command a pseudo-terminal, as a person's shell would. Ctrl-C is typed
      // once the peer is ready (a fixed timer raced a slow start on a loaded machine): the
      // terminal turns it into SIGINT for the foreground process group. `exec` makes our peer
      // that group alone: `script` runs the command under $SHELL -c, and dash (CI's /bin/sh)
      // dies of the SIGINT itself (exit 130) while the peer stops cleanly behind it.
      const tty = spawn('script', ['-qec', `exec ${command}`, '/dev/null'], {
        env: { ...process.env, NO_COLOR: '' },
      })
      let stdout = ''
      tty.stdout.on('data', (chunk: Buffer) => {
        stdout += chunk.toString()
      })
      const exited = new Promise<number | null>((resolve) => tty.on('close', resolve))
      // A bound on the test's own process, by PID, if the peer never becomes ready or never stops.
      const guard = setTimeout(() => tty.kill('SIGKILL'), 100_000)
      try {
        for (let waited = 0; !stdout.includes('ready: ') && waited < 90_000; waited += 100)
          await new Promise((r) => setTimeout(r, 100))
        expect(stdout).toContain('ready: ')
        tty.stdin.write('\u0003')
        expect(await exited, stdout).toBe(0)
      } finally {
        clearTimeout(guard)
        tty.stdin.destroy()
      }
      expect(stdout).toContain('we are')
      // biome-ignore lint/suspicious/noControlCharactersInRegex: an ANSI escape
      expect(stdout).toMatch(/\u001b\[1m\w+\u001b\[22m/) // our name in bold
      expect(stdout).toContain('stopping (SIGINT')
      expect(stdout).toContain('stopped')
    },
  )
})
