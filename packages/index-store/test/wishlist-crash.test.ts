import { spawn } from 'node:child_process'
import { join } from 'node:path'
import { createInterface } from 'node:readline'
import { openIndexStore, type WishlistFile } from '@harddrive-party/index-store'
import { afterEach, describe, expect, it } from 'vitest'
import { tempDir } from './helpers'

const writer = join(import.meta.dirname, 'fixtures', 'wishlist-writer.ts')
const cleanups: (() => unknown)[] = []
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c()
})

type Op =
  | { op: 'add'; id: string; files: number }
  | { op: 'cancel'; id: string }
  | { op: 'complete'; id: string; index: number }
  | { op: 'reorder'; id: string; position: number }

/** Runs the writer until it acknowledged `acks` operations (plus a few ms), then SIGKILLs it. */
async function runAndKill(
  dbPath: string,
  seed: number,
  prefix: string,
  acks: number,
  delayMs: number,
) {
  const child = spawn(
    process.execPath,
    [
      '--import',
      'tsx',
      '--conditions=@harddrive-party/source',
      writer,
      dbPath,
      String(seed),
      prefix,
    ],
    {
      cwd: join(import.meta.dirname, '..'),
      stdio: ['ignore', 'pipe', 'inherit'],
    },
  )
  cleanups.push(() => child.kill('SIGKILL'))
  const acked: Op[] = []
  let inflight: Op | undefined
  const exited = new Promise<NodeJS.Signals | null>((resolve) =>
    child.on('exit', (_code, signal) => resolve(signal)),
  )
  const timeout = setTimeout(() => child.kill('SIGKILL'), 60_000)
  let killing = false
  for await (const line of createInterface({ input: child.stdout })) {
    if (line.startsWith('begin ')) inflight = JSON.parse(line.slice(6))
    if (line.startsWith('ack ')) {
      acked.push(JSON.parse(line.slice(4)))
      inflight = undefined
      if (acked.length === acks && !killing) {
        killing = true
        // Kill by PID a few ms later: somewhere in the middle of the next operation.
        setTimeout(() => process.kill(child.pid as number, 'SIGKILL'), delayMs)
      }
    }
  }
  clearTimeout(timeout)
  expect(await exited).toBe('SIGKILL')
  return { acked, inflight }
}

describe('wishlist under kill -9', () => {
  it('loses and duplicates nothing that was acknowledged; the write in flight is all or nothing', async () => {
    const db = tempDir('hdp-crash-')
    cleanups.push(db.cleanup)
    // The model: what must be there, per acknowledged operations.
    const live = new Map<string, { files: number; done: Set<number> }>()
    const rounds = [
      { acks: 40, delay: 3 },
      { acks: 25, delay: 0 },
      { acks: 60, delay: 7 },
      { acks: 30, delay: 1 },
    ]
    let inflightSeen = 0
    for (const [round, { acks, delay }] of rounds.entries()) {
      const { acked, inflight } = await runAndKill(
        db.path,
        1234 + round * 77,
        `r${round}`,
        acks,
        delay,
      )
      expect(acked.length).toBeGreaterThanOrEqual(acks)
      for (const op of acked) {
        if (op.op === 'add') live.set(op.id, { files: op.files, done: new Set() })
        if (op.op === 'cancel') live.delete(op.id)
        if (op.op === 'complete') live.get(op.id)?.done.add(op.index)
      }
      const store = await openIndexStore({ path: db.path, scanThreads: 0 })
      try {
        const requests = []
        for await (const r of store.wishlist.list()) requests.push(r)
        const ids = requests.map((r) => r.id)
        expect(new Set(ids).size).toBe(ids.length)
        // The operation in flight when the kill landed: either fully applied or not at all.
        if (inflight !== undefined) {
          inflightSeen++
          const present = ids.includes(inflight.id)
          if (inflight.op === 'add' && present)
            live.set(inflight.id, { files: inflight.files, done: new Set() })
          if (inflight.op === 'cancel' && !present) live.delete(inflight.id)
        }
        expect(ids.sort()).toEqual([...live.keys()].sort())
        const positions = requests.filter((r) => r.position !== undefined).map((r) => r.position)
        expect(positions).toEqual(positions.map((_, i) => i + 1))
        for (const r of requests) {
          const model = live.get(r.id) as { files: number; done: Set<number> }
          const files: WishlistFile[] = []
          for await (const f of store.wishlist.files(r.id)) files.push(f)
          expect(files.map((f) => f.index)).toEqual([...Array(model.files).keys()])
          expect(r.files).toBe(model.files)
          if (
            inflight?.op === 'complete' &&
            inflight.id === r.id &&
            files[inflight.index]?.state === 'done'
          ) {
            model.done.add(inflight.index)
          }
          for (const i of model.done) expect(files[i]?.state).toBe('done')
          // The request's counters agree with its files (nothing half-applied).
          expect(r.filesDone).toBe(files.filter((f) => f.state === 'done').length)
          expect(r.bytesDone).toBe(files.reduce((n, f) => n + f.bytesDone, 0))
          expect(files.some((f) => f.state === 'active')).toBe(false)
        }
      } finally {
        await store.close()
      }
    }
    expect(inflightSeen).toBeGreaterThan(0)
  }, 120_000)
})
