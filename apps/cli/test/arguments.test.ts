import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, describe, expect, it } from 'vitest'
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
