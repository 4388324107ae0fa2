// The easy<->hard row of bench/first-ls.ts: two long-lived processes in the NAT lab (one behind
// an easy NAT, one behind a hard NAT; coturn as STUN, mosquitto on the lab's public net). Per
// run, interleaved so the machine's load hits both columns alike:
//   bare: fresh transport + holepunch + MQTT discovery on both sides (no peer-node); the easy
//         side's start to its connection with the hard side (discovery, NAT detection, punch, dial);
//   node: a fresh peer node on the hard side shares a folder and joins; a fresh node on the easy
//         side: start() to its first remote ls page.
// Each run has its own topic and fresh keys, so the punch limits (one birthday spray per IP per
// 90 s) never hold a run back, and both routers' conntrack tables are flushed between runs.
import { join } from 'node:path'
import type { LabProcess, NatLab } from '@harddrive-party/test-lab'
import { peerLabSkipReason, startPeerLab } from '../test/peer-lab'

const fixture = join(import.meta.dirname, 'fixtures/lab-first-ls.ts')

export interface LabRow {
  nodeMs: number[]
  bareMs: number[]
  /** Techniques the node runs' dialers used, and the bare runs' punches, with counts. */
  techniques: Record<string, number>
  failures: string[]
}

/** Undefined (after printing why) when the lab cannot run here: not root, no namespaces. */
export async function easyHardRow(runs: number): Promise<LabRow | undefined> {
  if (peerLabSkipReason('first-ls easy<->hard') !== '') return undefined
  const lab = await startPeerLab({
    nats: { E: 'easy', H: 'hard' },
    hosts: { e: 'E', h: 'H' },
    prefix: 'hdp-bench-first-ls-lab-',
  })
  const row: LabRow = { nodeMs: [], bareMs: [], techniques: {}, failures: [] }
  try {
    const start = (name: 'e' | 'h') =>
      lab.start(lab.hosts[name]!, { fixture, dir: join(lab.dir, name), topic: 'unused' })
    const [easy, hard] = [start('e'), start('h')]
    for (const p of [easy, hard]) await p.waitForLine(/^ready$/, { timeoutMs: 120_000 })
    const count = (technique: string) => {
      row.techniques[technique] = (row.techniques[technique] ?? 0) + 1
    }
    for (let i = 0; i < runs; i++) {
      await flush(lab.lab)
      const bareTopic = `first-ls-lab-${process.pid}-${i}-bare`
      const ready = await command(hard, `bare-first ${bareTopic}`, /^bare-ready /)
      const bare = await command(easy, `bare-second ${bareTopic} ${ready.split(' ')[1]}`, /^bare/)
      await command(hard, 'stop', /^stopped$/)
      const [kind, ms, technique] = bare.split(' ')
      if (kind === 'bare') {
        row.bareMs.push(Number(ms))
        count(`bare ${technique}`)
      } else row.failures.push(bare)

      await flush(lab.lab)
      const nodeTopic = `first-ls-lab-${process.pid}-${i}-node`
      const serving = await command(hard, `serve ${nodeTopic}`, /^serving /)
      const node = await command(easy, `node ${nodeTopic} ${serving.split(' ')[1]}`, /^node/)
      await command(hard, 'stop', /^stopped$/)
      const [nodeKind, nodeMs, used] = node.split(' ')
      if (nodeKind === 'node') {
        row.nodeMs.push(Number(nodeMs))
        count(`node ${used}`)
      } else row.failures.push(node)
    }
  } finally {
    await lab.stop()
  }
  return row
}

/** Sends `line` and waits for the answer matching `answer` (fixture errors fail the bench). */
async function command(proc: LabProcess, line: string, answer: RegExp): Promise<string> {
  const from = proc.lines.length
  proc.send(line)
  const got = await proc.waitForLine(new RegExp(`${answer.source}|^error `), {
    after: from,
    timeoutMs: 90_000,
  })
  if (got.startsWith('error ')) throw new Error(`${line}: ${got}`)
  return got
}

async function flush(lab: NatLab): Promise<void> {
  await Promise.all(['E', 'H'].map((r) => lab.flushConntrack(r)))
}
