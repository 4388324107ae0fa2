import { spawn } from 'node:child_process'
import { readFile, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { isPeerNodeError } from '@harddrive-party/peer-node'
import { tsNodeArgs } from '@harddrive-party/test-lab'
import { afterEach, describe, expect, it } from 'vitest'
import { Cleanup, loopbackOptions } from './helpers'

const cleanup = new Cleanup()
afterEach(() => cleanup.run())
const fixture = join(import.meta.dirname, 'fixtures/hold-lock.ts')

describe('storage directory', () => {
  it('holds identity, index, port and lock; the port and key stay the same across restarts', async () => {
    const dir = await cleanup.dir()
    const node = cleanup.node(loopbackOptions(dir, 'mqtt://127.0.0.1:1', { mqtt: false }))
    await node.start()
    const port = node.address().port
    const key = Buffer.from(node.publicKey).toString('hex')
    expect(port).toBeGreaterThan(0)
    expect(node.storage.dir).toBe(dir)
    expect(JSON.parse(await readFile(join(dir, 'node.json'), 'utf8'))).toEqual({ version: 1, port })
    expect(JSON.parse(await readFile(join(dir, 'lock'), 'utf8')).pid).toBe(process.pid)
    await node.stop()
    await expect(readFile(join(dir, 'lock'))).rejects.toMatchObject({ code: 'ENOENT' })
    await node.start()
    expect(node.address().port).toBe(port)
    expect(Buffer.from(node.publicKey).toString('hex')).toBe(key)
    await node.stop()
    const again = cleanup.node(loopbackOptions(dir, 'mqtt://127.0.0.1:1', { mqtt: false }))
    await again.start()
    expect(again.address().port).toBe(port)
  })

  it('a second node on the same directory in this process gets LOCKED, and the first keeps working', async () => {
    const dir = await cleanup.dir()
    const first = cleanup.node(loopbackOptions(dir, 'mqtt://127.0.0.1:1', { mqtt: false }))
    await first.start()
    await first.join('still works')
    const second = cleanup.node(loopbackOptions(dir, 'mqtt://127.0.0.1:1', { mqtt: false }))
    const err = await second.start().catch((e: unknown) => e)
    expect(isPeerNodeError(err) && err.code).toBe('LOCKED')
    expect(String((err as Error).message)).toContain(String(process.pid))
    expect(first.topics()).toEqual(['still works'])
    expect(first.store.topics.list().map((t) => t.name)).toEqual(['still works'])
    await first.stop()
    await second.start() // free again once the first stopped
    expect(second.topics()).toEqual(['still works'])
  })

  it('LOCKED across processes while the holder lives; a SIGKILLed holder leaves a stale lock that is taken over', async () => {
    const dir = await cleanup.dir()
    const child = spawn(process.execPath, [...tsNodeArgs(), fixture, dir], {
      stdio: ['pipe', 'pipe', 'inherit'],
    })
    try {
      await new Promise<void>((resolve, reject) => {
        child.stdout.on('data', (d: Buffer) => d.toString().includes('locked') && resolve())
        child.once('exit', (code) => reject(new Error(`fixture exited ${code}`)))
      })
      const node = cleanup.node(loopbackOptions(dir, 'mqtt://127.0.0.1:1', { mqtt: false }))
      const err = await node.start().catch((e: unknown) => e)
      expect(isPeerNodeError(err) && err.code).toBe('LOCKED')
      expect(String((err as Error).message)).toContain(String(child.pid))
      const exited = new Promise((resolve) => child.once('exit', resolve))
      child.kill('SIGKILL')
      await exited
      // The lock file is still there, naming a dead process.
      expect(JSON.parse(await readFile(join(dir, 'lock'), 'utf8')).pid).toBe(child.pid)
      await node.start()
      expect(JSON.parse(await readFile(join(dir, 'lock'), 'utf8')).pid).toBe(process.pid)
    } finally {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL')
    }
  })

  it('a lock naming a live process that is not its writer (recycled PID) is stale; garbage is stale', async () => {
    const dir = await cleanup.dir()
    // PID 1 is alive, but its start time is not the one recorded.
    await writeFile(join(dir, 'lock'), JSON.stringify({ pid: 1, startTime: '1', token: 'x' }))
    const node = cleanup.node(loopbackOptions(dir, 'mqtt://127.0.0.1:1', { mqtt: false }))
    await node.start()
    await node.stop()
    await writeFile(join(dir, 'lock'), 'not json at all')
    await node.start()
    await node.stop()
  })

  it('a damaged settings file costs only the port; a damaged peer list is ignored', async () => {
    const dir = await cleanup.dir()
    await writeFile(join(dir, 'node.json'), '{"port": "many"}')
    await writeFile(join(dir, 'peers.json'), '{"peers": [{"key": "zz"}, 7, null]}')
    const node = cleanup.node(loopbackOptions(dir, 'mqtt://127.0.0.1:1', { mqtt: false }))
    await node.start()
    expect(node.address().port).toBeGreaterThan(0)
    expect(node.peers()).toEqual([])
  })
})
