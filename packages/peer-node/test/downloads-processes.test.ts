import { createHash, randomBytes } from 'node:crypto'
import { createReadStream } from 'node:fs'
import { mkdir, readdir, writeFile } from 'node:fs/promises'
import { join, relative } from 'node:path'
import { peerName } from '@harddrive-party/peer-node'
import { type LabProcess, spawnNode } from '@harddrive-party/test-lab'
import { afterEach, describe, expect, it } from 'vitest'
import { Cleanup, useMosquitto } from './helpers'

const broker = useMosquitto()
const cleanup = new Cleanup()
const running: LabProcess[] = []
afterEach(async () => {
  await Promise.allSettled(running.splice(0).map((p) => p.stop(1000)))
  await cleanup.run()
})
const fixture = join(import.meta.dirname, 'fixtures/download-peer.ts')

function start(dir: string, topic: string, extra: string[] = []): LabProcess {
  const proc = spawnNode(fixture, [
    '--dir',
    dir,
    '--broker',
    broker.url,
    '--topic',
    topic,
    ...extra,
  ])
  running.push(proc)
  return proc
}

async function ready(proc: LabProcess): Promise<string> {
  return (await proc.waitForLine(/^ready /, { timeoutMs: 60_000 })).split(' ')[1]!
}

async function sha256(path: string): Promise<string> {
  const hash = createHash('sha256')
  for await (const chunk of createReadStream(path)) hash.update(chunk as Buffer)
  return hash.digest('hex')
}

/** sha256 of every file below `dir`, by relative path (part files included: none may be left). */
async function hashTree(dir: string): Promise<Map<string, string>> {
  const out = new Map<string, string>()
  for (const entry of await readdir(dir, { recursive: true, withFileTypes: true })) {
    if (!entry.isFile()) continue
    const path = join(entry.parentPath, entry.name)
    out.set(relative(dir, path), await sha256(path))
  }
  return out
}

async function download(proc: LabProcess, key: string, path: string): Promise<string> {
  const from = proc.lines.length
  proc.send(`download ${key} ${path}`)
  return (await proc.waitForLine(/^added /, { timeoutMs: 10_000, after: from })).split(' ')[1]!
}

describe('downloads between two peers as separate processes', () => {
  it('a folder of mixed sizes (empty files, deep nesting, 1,000 small files) arrives byte-exact', async () => {
    const root = await cleanup.dir()
    const share = join(root, 'films')
    const deep = join(share, ...Array.from({ length: 24 }, (_, i) => `level${i}`))
    await mkdir(deep, { recursive: true })
    await mkdir(join(share, 'small'))
    await mkdir(join(share, 'empty-folder'))
    await writeFile(join(share, 'empty.txt'), '')
    await writeFile(join(deep, 'bottom.bin'), randomBytes(70_000))
    await writeFile(join(deep, 'empty-at-the-bottom'), '')
    await writeFile(join(share, 'big.bin'), randomBytes(9 * 1024 * 1024 + 17))
    for (let i = 0; i < 1000; i++) {
      await writeFile(
        join(share, 'small', `f${i}.txt`),
        randomBytes(i % 7 === 0 ? 0 : 1 + (i % 5000)),
      )
    }
    const server = start(join(root, 'a'), 'folder', ['--share', share])
    const serverKey = await ready(server)
    const downloads = join(root, 'downloads')
    const client = start(join(root, 'b'), 'folder', ['--downloads', downloads])
    await ready(client)
    await client.waitForLine(`connect ${serverKey}`, { timeoutMs: 30_000 })
    const began = performance.now()
    const id = await download(client, serverKey, 'films')
    await client.waitForLine(`done ${id}`, { timeoutMs: 90_000 })
    console.log(`folder of 1,004 files: ${Math.round(performance.now() - began)} ms`)
    const got = await hashTree(join(downloads, peerName(Buffer.from(serverKey, 'hex')), 'films'))
    const want = await hashTree(share)
    expect(got.size).toBe(1004)
    expect(got).toEqual(want)
  }, 150_000)

  it('kill -9 at 10 random moments of a 256 MiB download: same sha256, bytes sent close to the size', async () => {
    const root = await cleanup.dir()
    const share = join(root, 'iso')
    await mkdir(share)
    const size = 256 * 1024 * 1024
    const file = join(share, 'disk.img')
    const chunk = randomBytes(1024 * 1024)
    await writeFile(file, Buffer.alloc(0))
    for (let i = 0; i < 256; i++) {
      chunk.writeUInt32BE(i, 0) // every MiB differs: a misplaced range shows
      await writeFile(file, chunk, { flag: 'a' })
    }
    const server = start(join(root, 'a'), 'kill', ['--share', share])
    const serverKey = await ready(server)
    const downloads = join(root, 'downloads')
    // 64 MiB/s: the transfer lasts ~4 s of running time, the kills land inside it.
    const options = ['--downloads', downloads, '--rate', String(64 * 1024 * 1024)]
    let id: string | undefined
    for (let kill = 0; kill < 10; kill++) {
      const client = start(join(root, 'b'), 'kill', options)
      await ready(client)
      await client.waitForLine(`connect ${serverKey}`, { timeoutMs: 30_000 })
      id ??= await download(client, serverKey, 'iso/disk.img')
      await new Promise((resolve) => setTimeout(resolve, 100 + Math.random() * 400))
      client.kill('SIGKILL')
      await client.exited
      running.splice(running.indexOf(client), 1)
    }
    const client = start(join(root, 'b'), 'kill', ['--downloads', downloads])
    await client.waitForLine(`done ${id}`, { timeoutMs: 90_000 })
    const local = join(downloads, peerName(Buffer.from(serverKey, 'hex')), 'iso', 'disk.img')
    expect(await sha256(local)).toBe(await sha256(file))
    const from = server.lines.length
    server.send('sent')
    const sent = Number((await server.waitForLine(/^sent /, { after: from })).split(' ')[1])
    console.log(`256 MiB through 10 kills: ${sent} bytes sent (${(sent / size).toFixed(3)}x)`)
    // Encryption and framing add a little; a restart from zero would add a whole file per kill.
    expect(sent).toBeGreaterThan(size)
    expect(sent).toBeLessThan(size * 1.25)
  }, 240_000)

  it('the remote file rewritten mid-download: the result is the new file, not a splice', async () => {
    const root = await cleanup.dir()
    const share = join(root, 'docs')
    await mkdir(share)
    const file = join(share, 'report.bin')
    await writeFile(file, randomBytes(8 * 1024 * 1024))
    const server = start(join(root, 'a'), 'rewrite', ['--share', share])
    const serverKey = await ready(server)
    const downloads = join(root, 'downloads')
    const client = start(join(root, 'b'), 'rewrite', [
      '--downloads',
      downloads,
      '--rate',
      String(2 * 1024 * 1024),
    ])
    await ready(client)
    await client.waitForLine(`connect ${serverKey}`, { timeoutMs: 30_000 })
    const id = await download(client, serverKey, 'docs/report.bin')
    await new Promise((resolve) => setTimeout(resolve, 1500))
    const fresh = randomBytes(6 * 1024 * 1024 + 5)
    await writeFile(file, fresh)
    await client.waitForLine(`done ${id}`, { timeoutMs: 60_000 })
    const local = join(downloads, peerName(Buffer.from(serverKey, 'hex')), 'docs', 'report.bin')
    expect(await sha256(local)).toBe(createHash('sha256').update(fresh).digest('hex'))
    expect(client.lines.some((l) => l.startsWith('file restarted docs/report.bin'))).toBe(true)
  }, 120_000)
})
