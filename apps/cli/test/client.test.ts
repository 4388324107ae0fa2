import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import type { LabProcess } from '@harddrive-party/test-lab'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { freeTcpPort, LOOPBACK, runCli, startCli, startMosquitto } from './helpers'

const dir = mkdtempSync(join(tmpdir(), 'hdp-cli-client-'))
const aliceStorage = join(dir, 'alice')
const bobStorage = join(dir, 'bob')
const films = join(dir, 'films')
let broker: Awaited<ReturnType<typeof startMosquitto>>
let alice: LabProcess
let bob: LabProcess
/** The URL alice printed for her web UI. */
let aliceUi: string
let aliceName = ''
let alicePort = 0
let bobPort = 0
const big = Buffer.alloc(200_000)
for (let i = 0; i < big.length; i++) big[i] = (i * 7919) % 256

const bobSays = (...args: string[]) => runCli([...args, '--storage', bobStorage])

beforeAll(async () => {
  mkdirSync(join(films, 'noir'), { recursive: true })
  writeFileSync(join(films, 'noir', 'big.bin'), big)
  writeFileSync(join(films, 'come together.txt'), 'hello there')
  broker = await startMosquitto()
  alicePort = await freeTcpPort()
  const common = [...LOOPBACK, '--mqtt-server', broker.url, '-t', 'movie night']
  // The last --ui-addr wins: after LOOPBACK's.
  alice = startCli([
    'start',
    '--storage',
    aliceStorage,
    '-s',
    films,
    ...common,
    '--ui-addr',
    `127.0.0.1:${alicePort}`,
  ])
  bobPort = await freeTcpPort()
  bob = startCli(['start', '--storage', bobStorage, ...common, '--ui-addr', `127.0.0.1:${bobPort}`])
  const line = await alice.waitForLine(/^we are \S+/)
  aliceName = line.split(' ')[2]!
  aliceUi = (await alice.waitForLine(`web UI: http://127.0.0.1:${alicePort}/?token=`)).slice(8)
  await bob.waitForLine(new RegExp(`^\\+ ${aliceName} .* connected`), { timeoutMs: 40_000 })
  await alice.waitForLine('ready: ')
}, 90_000)

afterAll(async () => {
  await Promise.all([alice?.stop(5000), bob?.stop(5000)])
  await broker?.stop()
  rmSync(dir, { recursive: true, force: true })
})

// Each command is a new process (about a second, several on a loaded machine).
describe('client commands through the control API', { timeout: 60_000 }, () => {
  it('the printed web UI URL serves the web UI (its token in the URL sets the cookie)', async () => {
    const page = await fetch(aliceUi)
    expect(page.status).toBe(200)
    expect(page.headers.get('content-type')).toMatch(/^text\/html/)
    expect(await page.text()).toContain('<div id="app"></div>')
    expect(alice.lines.some((l) => l.includes('not built here'))).toBe(false)
  })

  it('ls lists a peer, a directory recursively, and --json is one parsable document', async () => {
    const all = await bobSays('ls')
    expect(all.code).toBe(0)
    expect(all.stdout).toMatch(new RegExp(`^d +200 kB  ${aliceName}/films/ \\(2 files\\)$`, 'm'))
    const tree = await bobSays('ls', `${aliceName}/films`, '-r')
    expect(tree.stdout.split('\n')).toEqual([
      `-      11 B  ${aliceName}/films/come together.txt`,
      `d    200 kB  ${aliceName}/films/noir/ (1 file)`,
      `-    200 kB  ${aliceName}/films/noir/big.bin`,
    ])
    const json = await bobSays('ls', `${aliceName}/films`, '-r', '--json')
    const parsed = JSON.parse(json.stdout) as {
      entries: Array<{ path: string; size: number; dir: boolean; name: string }>
    }
    expect(parsed.entries.map((e) => [e.path, e.size, e.dir, e.name])).toEqual([
      ['films/come together.txt', 11, false, aliceName],
      ['films/noir', 200_000, true, aliceName],
      ['films/noir/big.bin', 200_000, false, aliceName],
    ])
  })

  it('search finds names across peers', async () => {
    const r = await bobSays('search', 'together', '--json')
    expect(r.code).toBe(0)
    const parsed = JSON.parse(r.stdout) as { entries: Array<{ path: string }> }
    expect(parsed.entries.map((e) => e.path)).toEqual(['films/come together.txt'])
  })

  it('read writes the bytes to stdout, whole or a range, binary-safe', async () => {
    const file = join(dir, 'out.bin')
    const p = startCli(['read', `${aliceName}/films/noir/big.bin`, '--storage', bobStorage])
    const chunks: Buffer[] = []
    p.child.stdout!.removeAllListeners('data')
    p.child.stdout!.on('data', (c: Buffer) => chunks.push(c))
    expect((await p.exited).code).toBe(0)
    writeFileSync(file, Buffer.concat(chunks))
    expect(readFileSync(file).equals(big)).toBe(true)
    const range = await bobSays(
      'read',
      `${aliceName}/films/come together.txt`,
      '--start',
      '6',
      '--end',
      '11',
    )
    expect(range.stdout).toBe('there')
  })

  it('topics, join and leave, peers --json, shares add and remove', async () => {
    expect((await bobSays('join', 'book club')).stdout).toBe(
      'joined "book club"; topics: "movie night", "book club"',
    )
    expect((await bobSays('topics')).stdout.split('\n')).toEqual(['movie night', 'book club'])
    expect((await bobSays('leave', 'book club')).code).toBe(0)
    const peers = JSON.parse((await bobSays('peers', '--json')).stdout) as {
      peers: Array<{ name: string; connected: boolean }>
    }
    expect(peers.peers).toContainEqual(
      expect.objectContaining({ name: aliceName, connected: true }),
    )
    const music = join(dir, 'music')
    mkdirSync(music)
    expect((await bobSays('shares', 'add', music)).stdout).toBe(
      `sharing music: ${music} (scanning)`,
    )
    const shares = JSON.parse((await bobSays('shares', '--json')).stdout) as {
      shares: Array<{ name: string }>
    }
    expect(shares.shares.map((s) => s.name)).toEqual(['music'])
    expect((await bobSays('shares', 'remove', 'music')).stdout).toBe('removed music')
  }, 120_000)

  it('every failure is one line on stderr with its exit code', async () => {
    const cases: Array<[string[], number, string]> = [
      [['ls', 'Nobody/films', '--storage', bobStorage], 4, 'no known peer "Nobody"'],
      [['ls', `${aliceName}/films/nope`, '--storage', bobStorage], 4, 'films/nope'],
      [['read', `${aliceName}/films/nope.bin`, '--storage', bobStorage], 4, ''],
      [['shares', 'remove', 'nothing', '--storage', bobStorage], 4, 'no share named "nothing"'],
      [['topics', '--storage', join(dir, 'never-started')], 3, 'no running peer: no API token'],
      [
        ['topics', '--storage', bobStorage, '--ui-addr', `127.0.0.1:${await freeTcpPort()}`],
        3,
        'no running peer at http://127.0.0.1:',
      ],
      // Alice's API with Bob's token.
      [
        ['topics', '--storage', bobStorage, '--ui-addr', `127.0.0.1:${alicePort}`],
        6,
        'token rejected',
      ],
      [['ls', '--bogus', '--storage', bobStorage], 2, "Unknown option '--bogus'"],
      [['join', '--storage', bobStorage], 2, 'Missing required positional argument: TOPIC'],
      [['join', '  ', '--storage', bobStorage], 2, 'bad topic'],
    ]
    const results = await Promise.all(cases.map(([args]) => runCli(args)))
    for (const [i, [args, code, message]] of cases.entries()) {
      const r = results[i]!
      expect({ args, code: r.code }).toEqual({ args, code })
      expect(r.stderr).toContain(message)
      expect(r.stderr.trim().split('\n')).toHaveLength(1)
    }
  }, 120_000)

  it('stop ends the running peer cleanly', async () => {
    expect((await bobSays('stop')).code).toBe(0)
    expect((await bob.exited).code).toBe(0)
    expect(bob.lines).toContain('stopped')
    // Its saved API address is gone with it, and nothing answers there any more.
    expect(existsSync(join(bobStorage, 'api-url'))).toBe(false)
    const after = await bobSays('topics', '--ui-addr', `127.0.0.1:${bobPort}`)
    expect(after.code).toBe(3)
    expect(after.stderr).toContain(`no running peer at http://127.0.0.1:${bobPort}/`)
  })
})
