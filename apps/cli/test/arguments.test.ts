import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, describe, expect, it } from 'vitest'
import { startConfig } from '../src/start-options'
import { runCli } from './helpers'

const dir = mkdtempSync(join(tmpdir(), 'hdp-cli-args-'))
afterAll(() => rmSync(dir, { recursive: true, force: true }))

// biome-ignore lint/suspicious/noControlCharactersInRegex: looking for ANSI escapes
const ANSI = /\u001b\[/

describe('harddrive-party arguments', () => {
  it('--help names the commands and shows an example, without colours when piped', async () => {
    const { code, stdout } = await runCli(['--help'])
    expect(code).toBe(0)
    expect(stdout).toContain('start')
    expect(stdout).toContain('hdp start --topic "our movie night" --share-dir ~/Videos')
    expect(stdout).not.toMatch(ANSI)
  })

  it('start --help explains every option with its default and an example', async () => {
    const { code, stdout } = await runCli(['start', '--help'])
    expect(code).toBe(0)
    for (const option of [
      '--topic',
      '--share-dir',
      '--storage',
      '--no-mqtt',
      '--no-mdns',
      '--embedded-broker',
      '--stun-server',
      '--turn-server',
      '--no-port-mapping',
      '--ui-addr',
      '--upload-slots',
      '--relay',
      '--relay-limit',
      '--verbose',
    ]) {
      expect(stdout).toContain(option)
    }
    expect(stdout).toContain('(Default: 127.0.0.1:3030)')
    expect(stdout).toContain('mqtt://broker.hivemq.com:1883')
    expect(stdout).toContain('EXAMPLE')
    expect(stdout).not.toMatch(ANSI)
  })

  it("every command's --help explains each option with its default, and shows an example", async () => {
    const commands = [
      ...['info', 'join', 'leave', 'topics', 'peers', 'doctor', 'ls', 'search', 'read'],
      ...['shares', 'download', 'queue', 'pause', 'resume', 'cancel', 'stop'],
    ].map((c) => [c])
    commands.push(['shares', 'add'], ['shares', 'remove'])
    const results: Array<{ code: number | null; stdout: string }> = []
    // Four at a time: each is a Node process.
    for (let i = 0; i < commands.length; i += 4)
      results.push(
        ...(await Promise.all(commands.slice(i, i + 4).map((c) => runCli([...c, '--help'])))),
      )
    for (const [i, command] of commands.entries()) {
      const { code, stdout } = results[i]!
      expect({ command, code }).toEqual({ command, code: 0 })
      expect(stdout, command.join(' ')).toMatch(/\nEXAMPLE\n\n {2}hdp /)
      // An option that takes a value says what it is when left out.
      for (const line of stdout.split('\n').filter((l) => /--[\w-]+=</.test(l)))
        expect(line, command.join(' ')).toContain('(Default: ')
      expect(stdout).toContain('--storage=<dir>')
      expect(stdout).not.toMatch(ANSI)
    }
    const download = results[commands.findIndex((c) => c[0] === 'download')]!.stdout
    for (const option of ['--detach', '--json', '--peer-timeout=<seconds>', '(Default: 60)'])
      expect(download).toContain(option)
    expect(download).toContain('hdp download BriefOtter/films/noir --json')
  }, 120_000)

  it.each([
    [['start', '--bogus'], "Unknown option '--bogus'"],
    [['start', '--topic'], "Option '-t, --topic <value>' argument missing"],
    [['start', '--topic', '   '], 'bad topic: a topic name cannot be blank'],
    [['start', '--topic', 'a\u0001b'], 'bad topic: topic name contains a control character'],
    [['start', '--upload-slots', 'many'], '--upload-slots must be a whole number'],
    [['start', '--ui-addr', 'localhost'], '--ui-addr must be HOST:PORT'],
    [['start', '--mqtt-server', 'http://x'], '--mqtt-server must be an mqtt://'],
    [['start', '--relay-limit', '2M'], '--relay-limit needs --relay'],
    [['start', '--relay', '--relay-limit', 'fast'], '--relay-limit'],
    [['start', 'movie-night'], "start takes no arguments, got 'movie-night'"],
    [
      ['start', '--turn-server', 'stun://me:hunter2@198.51.100.1'],
      "--turn-server must be turn://user:pass@host:port, got 'stun://me:***@198.51.100.1'",
    ],
    [['frobnicate'], "unknown command 'frobnicate'"],
  ])('%j is one clear line on stderr and exit code 2', async (args, message) => {
    const { code, stdout, stderr } = await runCli(args)
    expect(code).toBe(2)
    expect(stderr).toContain(message)
    expect(stderr.trim().split('\n')).toHaveLength(1)
    expect(stdout).toBe('')
  })

  it('a share directory that is a file is refused with exit code 2', async () => {
    const file = join(dir, 'file.txt')
    writeFileSync(file, 'x')
    const { code, stderr } = await runCli([
      'start',
      '--share-dir',
      file,
      '--storage',
      join(dir, 's'),
    ])
    expect(code).toBe(2)
    expect(stderr).toContain(`--share-dir: not a directory: ${file}`)
  })
})

describe('--turn-server', () => {
  it('is repeatable and reaches peer-node as turnServers', () => {
    const urls = ['turn://me:p%40ss@198.51.100.1:3478', 'turn://me:pw@[2001:db8::1]']
    const config = startConfig(
      { strings: { 'turn-server': urls, storage: [dir] }, flags: {}, positionals: [] },
      { HOME: dir },
    )
    expect(config.node.turnServers).toEqual(urls)
  })
})

describe('--port-mapping', () => {
  const config = (flags: Record<string, boolean>, bind?: string) =>
    startConfig(
      {
        strings: { storage: [dir], ...(bind ? { bind: [bind] } : {}) },
        flags,
        positionals: [],
      },
      { HOME: dir },
    )

  it('is on by default (the router is asked), off with --no-port-mapping or a loopback bind', () => {
    expect(config({}).node.portMapping).toEqual({})
    expect(config({}).portMappingOff).toBeUndefined()
    expect(config({}, '0.0.0.0').node.portMapping).toEqual({})
    expect(config({ 'port-mapping': true }).node.portMapping).toEqual({})
    const off = config({ 'port-mapping': false })
    expect(off.node.portMapping).toBeUndefined()
    expect(off.portMappingOff).toBe('off (--no-port-mapping)')
    const loopback = config({}, '127.0.0.1')
    expect(loopback.node.portMapping).toBeUndefined()
    expect(loopback.portMappingOff).toBe('off (bound to loopback)')
  })
})
