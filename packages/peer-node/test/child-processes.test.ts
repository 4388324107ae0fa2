import { join } from 'node:path'
import { type LabProcess, spawnNode } from '@harddrive-party/test-lab'
import { afterEach, describe, expect, it } from 'vitest'
import { Cleanup, useMosquitto } from './helpers'
import { ask, browse, browseOf, makeShare } from './peer-lab'

const broker = useMosquitto()
const cleanup = new Cleanup()
const running: LabProcess[] = []
afterEach(async () => {
  await Promise.allSettled(running.splice(0).map((p) => p.stop(1000)))
  await cleanup.run()
})
const fixture = join(import.meta.dirname, 'fixtures/peer.ts')

function start(dir: string, topic: string, share?: string): LabProcess {
  const proc = spawnNode(fixture, [
    ...['--dir', dir, '--broker', broker.url, '--topic', topic],
    ...(share ? ['--share', share] : []),
  ])
  running.push(proc)
  return proc
}

async function ready(proc: LabProcess, after = 0): Promise<{ key: string; port: number }> {
  // 120 s: tsx compiles the fixture, and one with a share indexes it before it joins: on this
  // shared machine (load 20 on 2 cores) three such starts took over 60 s.
  const [, key, port] = (await proc.waitForLine(/^ready /, { timeoutMs: 120_000, after })).split(
    ' ',
  )
  return { key: key!, port: Number(port) }
}

/** Waits until `proc` reported a live connection to each key, and returns its connect lines. */
async function connectsTo(proc: LabProcess, keys: string[], after = 0): Promise<string[]> {
  for (const key of keys) await proc.waitForLine(`connect ${key}`, { timeoutMs: 30_000, after })
  return proc.lines.slice(after).filter((l) => l.startsWith('connect '))
}

async function stopAndExit(proc: LabProcess): Promise<string> {
  const from = proc.lines.length
  proc.send('stop')
  const stopped = await proc.waitForLine(/^stopped /, { timeoutMs: 15_000, after: from })
  const timer = setTimeout(() => proc.kill('SIGKILL'), 10_000)
  const status = await proc.exited
  clearTimeout(timer)
  // Exited by itself (code 0), not killed: stop() left no handle behind.
  expect(status, `still alive after stop: ${stopped}`).toEqual({ code: 0, signal: null })
  return stopped
}

describe('three peers as separate processes, MQTT through mosquitto, loopback', () => {
  it('each connects to the other two exactly once; stop leaves no handle; a restart keeps its port', async () => {
    const dirs = [await cleanup.dir(), await cleanup.dir(), await cleanup.dir()]
    const procs = dirs.map((d) => start(d, 'separate rooms'))
    const ids = await Promise.all(procs.map((p) => ready(p)))
    for (const [i, proc] of procs.entries()) {
      const others = ids.filter((_, j) => j !== i).map((id) => id.key)
      await connectsTo(proc, others)
    }
    await new Promise((resolve) => setTimeout(resolve, 500)) // room for a duplicate to show up
    for (const [i, proc] of procs.entries()) {
      const others = ids.filter((_, j) => j !== i).map((id) => `connect ${id.key}`)
      expect(proc.lines.filter((l) => l.startsWith('connect ')).sort()).toEqual(others.sort())
    }

    // The first peer stops (and exits by itself), the others see it go.
    await stopAndExit(procs[0]!)
    for (const proc of procs.slice(1)) {
      await proc.waitForLine(`disconnect ${ids[0]!.key}`, { timeoutMs: 30_000 })
    }
    // It comes back on the same storage: same key, same port, connected again to both.
    const marks = procs.map((p) => p.lines.length)
    const again = start(dirs[0]!, 'separate rooms')
    const id = await ready(again)
    expect(id).toEqual(ids[0])
    await connectsTo(again, [ids[1]!.key, ids[2]!.key])
    for (const [i, proc] of procs.slice(1).entries()) {
      await connectsTo(proc, [id.key], marks[i + 1])
    }
    for (const proc of [again, ...procs.slice(1)]) await stopAndExit(proc)
  }, 240_000)

  it('each browses and searches the other two (ls root, ls a folder, search)', async () => {
    const names = ['alto', 'bass', 'cello']
    const procs: LabProcess[] = []
    for (const name of names) {
      const dir = await cleanup.dir()
      procs.push(start(join(dir, 'storage'), 'browse rooms', await makeShare(dir, name)))
    }
    const ids = await Promise.all(procs.map((p) => ready(p)))
    for (const [i, proc] of procs.entries()) {
      await connectsTo(
        proc,
        ids.filter((_, j) => j !== i).map((id) => id.key),
      )
    }
    for (const [i, proc] of procs.entries()) {
      for (const [j, id] of ids.entries()) {
        if (i === j) continue
        expect(await browse(proc, id.key, names[j]!)).toEqual(browseOf(names[j]!))
      }
    }
    // Each answer came from the peer asked: bass has no cello song, cello no bass song.
    expect(await ask(procs[0]!, `search ${ids[1]!.key} song-of-cello`)).toEqual([])
    expect(await ask(procs[0]!, `search ${ids[2]!.key} song-of-bass`)).toEqual([])
    for (const proc of procs) await stopAndExit(proc)
  }, 240_000)
})
