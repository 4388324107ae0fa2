// The carrier move's gain (issue 12 item 2): the same 64 MiB download over a 1 ms RTT link
// with 2 % random loss (test/move-lab.ts: two peer nodes in network namespaces), with the move
// off and on, alternating, each started once the connection is 10 s old (the move rule's age).
// Needs root (skips with the reason otherwise). BENCH_RUNS pairs (default 1).
import { readFile } from 'node:fs/promises'
import { createMoveLab, LOSSY, MOVE_LAB_FILE_BYTES, moveLabSkipReason } from '../test/move-lab'

const RUNS = Number(process.env.BENCH_RUNS ?? 1)
const skip = moveLabSkipReason()
if (skip) {
  console.log(`carrier move bench skipped: ${skip}`)
  process.exit(0)
}
const load = async () => (await readFile('/proc/loadavg', 'utf8')).split(' ')[0]
const lab = await createMoveLab()
const rows: string[] = []
try {
  for (let run = 0; run < RUNS; run++) {
    for (const move of [false, true]) {
      const before = await load()
      const r = await lab.download(LOSSY, move, 10_000)
      const after = await load()
      const mbs = MOVE_LAB_FILE_BYTES / r.seconds / 1e6
      rows.push(
        `| ${move ? 'on' : 'off'} | ${r.seconds.toFixed(1)} | ${mbs.toFixed(1)} | ${r.carriers.join(' → ')} | ${r.intact ? 'yes' : 'NO'} | ${before} → ${after} |`,
      )
    }
  }
} finally {
  await lab.destroy()
}
console.log('64 MiB over 1 ms RTT, 2 % loss, TCP at the start:')
console.log('| move | s | MB/s | carriers | sha256 equal | load |')
console.log('| --- | --- | --- | --- | --- | --- |')
for (const row of rows) console.log(row)
