import { execFile } from 'node:child_process'
import { createHash, randomBytes } from 'node:crypto'
import {
  existsSync,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  rmSync,
  statSync,
  writeFileSync,
} from 'node:fs'
import { tmpdir } from 'node:os'
import { join, relative } from 'node:path'
import type { LabProcess } from '@harddrive-party/test-lab'
import { hasCommand } from '@harddrive-party/test-lab'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { CLI, LOOPBACK, runCli, startCli, startMosquitto } from './helpers'

const dir = mkdtempSync(join(tmpdir(), 'hdp-cli-download-'))
const aliceStorage = join(dir, 'alice')
const bobStorage = join(dir, 'bob')
const bobDownloads = join(dir, 'bob-downloads')
const shared = join(dir, 'library')
let broker: Awaited<ReturnType<typeof startMosquitto>>
let alice: LabProcess
let bob: LabProcess
let aliceName = ''
let common: string[] = []
const running: LabProcess[] = []

// biome-ignore lint/suspicious/noControlCharactersInRegex: looking for ANSI escapes
const ANSI = /\u001b\[/

/** Random files in Alice's share `library`: sizes by path inside it. */
const FILES: Record<string, number> = {
  'films/noir/big.bin': 400_000,
  'films/noir/short.bin': 20_000,
  'films/trailer.bin': 150_000,
  'music/a.bin': 100_000,
  'music/b.bin': 120_000,
  'music/deep/c.bin': 30_000,
  'docs/report.bin': 120_000,
  'slow/stopped-waiting.bin': 800_000,
  'slow/restart.bin': 2_500_000,
}

const sha256 = (path: string) => createHash('sha256').update(readFileSync(path)).digest('hex')

/** Every file under `sub` of Bob's copy equals Alice's, byte for byte. */
function expectSameFiles(sub: string): void {
  const names = Object.keys(FILES).filter((p) => p === sub || p.startsWith(`${sub}/`))
  expect(names.length).toBeGreaterThan(0)
  for (const p of names) {
    const copy = join(bobDownloads, aliceName, 'library', p)
    expect(existsSync(copy), `${copy} exists`).toBe(true)
    expect(sha256(copy), p).toBe(sha256(join(shared, p)))
  }
}

function startBob(): LabProcess {
  const p = startCli(['start', '--storage', bobStorage, '--download-dir', bobDownloads, ...common])
  running.push(p)
  return p
}

const bobSays = (...args: string[]) => runCli([...args, '--storage', bobStorage])

beforeAll(async () => {
  for (const [p, size] of Object.entries(FILES)) {
    mkdirSync(join(shared, p, '..'), { recursive: true })
    writeFileSync(join(shared, p), randomBytes(size))
  }
  broker = await startMosquitto()
  common = [...LOOPBACK, '--mqtt-server', broker.url, '-t', 'download night']
  // Alice sends slowly (512 KiB/s): downloads are still running while the test looks at them.
  alice = startCli([
    'start',
    '--storage',
    aliceStorage,
    '-s',
    shared,
    '--upload-limit',
    '512k',
    ...common,
  ])
  running.push(alice)
  aliceName = (await alice.waitForLine(/^we are \S+/, { timeoutMs: 60_000 })).split(' ')[2]!
  await alice.waitForLine('ready: ', { timeoutMs: 60_000 })
  bob = startBob()
  await bob.waitForLine(new RegExp(`^\\+ ${aliceName} .* connected`), { timeoutMs: 60_000 })
}, 180_000)

afterAll(async () => {
  await Promise.all(running.map((p) => p.stop(5000)))
  await broker?.stop()
  rmSync(dir, { recursive: true, force: true })
})

// Every command is a new Node process: seconds each on a machine busy with other tests.
describe('hdp download', { timeout: 180_000 }, () => {
  it.runIf(hasCommand('script'))(
    'a folder on a terminal: a progress bar with bytes, speed and files, then the summary',
    async () => {
      const command = [
        process.execPath,
        CLI,
        'download',
        `${aliceName}/library/films`,
        '--storage',
        bobStorage,
      ]
        .map((a) => `'${a}'`)
        .join(' ')
      // `script` gives the command a pseudo-terminal, as a person's shell would; -e: its exit code.
      const { stdout } = await new Promise<{ stdout: string }>((resolve, reject) =>
        execFile(
          'script',
          ['-qfec', command, '/dev/null'],
          { env: { ...process.env, NO_COLOR: '' } },
          (err, out) => (err ? reject(err) : resolve({ stdout: out })),
        ),
      )
      expect(stdout).toContain(`downloading ${aliceName}/library/films (id `)
      // The bar redraws in place: a carriage return or cursor movement, then the bar itself.
      expect(stdout).toMatch(/\[[=-]{24}\] +\d+% \| [\d.]+ kB of 570 kB \| [\d.]+ k?B\/s \| ETA/)
      expect(stdout).toMatch(/\| \d\/3 files/)
      expect(stdout).toMatch(ANSI)
      expect(stdout).toContain(`downloaded ${aliceName}/library/films: 3 files, 570 kB in `)
      expectSameFiles('films')
    },
  )

  it('a folder piped: plain lines, one per file done, and the summary', async () => {
    const r = await bobSays('download', `${aliceName}/library/music`)
    expect(r.code).toBe(0)
    const lines = r.stdout.split('\n')
    expect(lines[0]).toMatch(
      new RegExp(`^downloading ${aliceName}/library/music \\(id [0-9a-f-]{36}\\)$`),
    )
    expect(lines).toContain(`${aliceName}/library/music: 3/3 files done, 250 kB of 250 kB`)
    expect(lines.at(-1)).toMatch(
      new RegExp(
        `^downloaded ${aliceName}/library/music: 3 files, 250 kB in .* → ${bobDownloads}/${aliceName}/library/music$`,
      ),
    )
    expect(r.stdout).not.toMatch(ANSI)
    expect(r.stderr).toBe('')
    expectSameFiles('music')
  })

  it('--json prints one document at the end: the finished request', async () => {
    const r = await bobSays('download', `${aliceName}/library/docs/report.bin`, '--json')
    expect(r.code).toBe(0)
    const { request, elapsedMs } = JSON.parse(r.stdout) as {
      request: Record<string, unknown>
      elapsedMs: number
    }
    expect(request).toMatchObject({
      peerName: aliceName,
      path: 'library/docs/report.bin',
      dir: false,
      state: 'done',
      files: 1,
      filesDone: 1,
      filesFailed: 0,
      size: 120_000,
      bytesDone: 120_000,
      localPath: join(bobDownloads, aliceName, 'library/docs/report.bin'),
    })
    expect(elapsedMs).toBeGreaterThan(0)
    expectSameFiles('docs')
  })

  it('an unknown peer, a missing path, a bad option: one line and an exit code, nothing queued', async () => {
    const cases: Array<[string[], number, string]> = [
      [['download', 'Nobody/films'], 4, 'no known peer "Nobody"'],
      [
        ['download', `${aliceName}/library/films/nope`],
        4,
        `${aliceName} has no library/films/nope`,
      ],
      [['download', aliceName], 2, 'name a file or folder as PEER/SHARE/PATH'],
      [
        ['download', `${aliceName}/library/films`, '--peer-timeout', 'soon'],
        2,
        '--peer-timeout must be',
      ],
    ]
    const results = await Promise.all(cases.map(([args]) => bobSays(...args)))
    for (const [i, [args, code, message]] of cases.entries()) {
      const r = results[i]!
      expect({ args, code: r.code }).toEqual({ args, code })
      expect(r.stderr).toContain(message)
      expect(r.stderr.trim().split('\n')).toHaveLength(1)
    }
    const queue = JSON.parse((await bobSays('queue', '--json')).stdout) as {
      requests: Array<{ path: string }>
    }
    expect(queue.requests.map((q) => q.path)).not.toContain('library/films/nope')
    expect(queue.requests.map((q) => q.path)).toContain('library/docs/report.bin')
  })

  it('Ctrl-C stops waiting and says the download goes on; it does', async () => {
    const p = startCli([
      'download',
      `${aliceName}/library/slow/stopped-waiting.bin`,
      '--storage',
      bobStorage,
    ])
    running.push(p)
    const line = await p.waitForLine(/^downloading .* \(id [0-9a-f-]{36}\)$/, {
      timeoutMs: 60_000,
    })
    const id = /\(id ([0-9a-f-]{36})\)/.exec(line)![1]!
    p.kill('SIGINT')
    expect((await p.exited).code).toBe(130)
    expect(p.stderr.trim()).toBe(
      `harddrive-party: stopped waiting; download ${id} goes on in the running peer (hdp queue shows it, hdp cancel ${id} stops it)`,
    )
    const done = await waitForRequest(id, (r) => r.state === 'done')
    expect(done.bytesDone).toBe(800_000)
    expectSameFiles('slow/stopped-waiting.bin')
  })

  it('SIGINT to the downloading peer mid-download, then start again: the download completes', async () => {
    const queued = await bobSays(
      'download',
      `${aliceName}/library/slow/restart.bin`,
      '--detach',
      '--json',
    )
    expect(queued.code).toBe(0)
    const id = (JSON.parse(queued.stdout) as { request: { id: string } }).request.id
    // In progress: part of it is on disk (2.5 MB at 512 KiB/s takes about 5 s).
    const part = join(bobDownloads, aliceName, 'library/slow/restart.bin.part')
    for (let i = 0; i < 400 && !(existsSync(part) && statSync(part).size > 0); i++)
      await new Promise((r) => setTimeout(r, 50))
    expect(statSync(part).size).toBeGreaterThan(0)
    bob.kill('SIGINT')
    expect((await bob.exited).code).toBe(0)
    expect(bob.lines).toContain('stopped')
    const stoppedAt = existsSync(part) ? statSync(part).size : 0
    expect(stoppedAt).toBeLessThan(2_500_000)
    expect(existsSync(join(bobDownloads, aliceName, 'library/slow/restart.bin'))).toBe(false)

    bob = startBob()
    await bob.waitForLine(new RegExp(`^\\+ ${aliceName} .* connected`), { timeoutMs: 60_000 })
    const done = await waitForRequest(id, (r) => r.state === 'done')
    expect(done).toMatchObject({ filesDone: 1, filesFailed: 0, bytesDone: 2_500_000 })
    expectSameFiles('slow/restart.bin')
    expect(relative(bobDownloads, done.localPath as string)).toBe(
      `${aliceName}/library/slow/restart.bin`,
    )
  })
})

/** Reads `hdp queue --json` until the request matches (bounded: about a minute). */
async function waitForRequest(
  id: string,
  ready: (r: Record<string, unknown>) => boolean,
): Promise<Record<string, unknown>> {
  let last: Record<string, unknown> | undefined
  for (let i = 0; i < 60; i++) {
    const r = await bobSays('queue', '--json')
    const requests = (
      JSON.parse(r.stdout || '{"requests":[]}') as { requests: Array<Record<string, unknown>> }
    ).requests
    last = requests.find((q) => q.id === id)
    if (last !== undefined && ready(last)) return last
    await new Promise((r) => setTimeout(r, 500))
  }
  throw new Error(`request ${id} never got there: ${JSON.stringify(last)}`)
}
