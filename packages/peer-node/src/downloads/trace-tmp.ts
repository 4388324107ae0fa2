import { createRequire } from 'node:module'
const require = createRequire(import.meta.url)
// TEMPORARY instrumentation (HDP_TRACE=1): sums of durations per stage; printed at stop.
const on = process.env.HDP_TRACE === '1'
const sums = new Map<string, { n: number; ms: number; max: number }>()
const gauges = new Map<string, { cur: number; max: number; area: number; last: number }>()
const t0 = performance.now()
export function span(name: string, ms: number): void {
  if (!on) return
  const s = sums.get(name) ?? { n: 0, ms: 0, max: 0 }
  s.n++
  s.ms += ms
  s.max = Math.max(s.max, ms)
  sums.set(name, s)
}
export async function timed<T>(name: string, p: Promise<T>): Promise<T> {
  if (!on) return p
  const t = performance.now()
  try {
    return await p
  } finally {
    span(name, performance.now() - t)
  }
}
export function gauge(name: string, delta: number): void {
  if (!on) return
  const now = performance.now()
  const g = gauges.get(name) ?? { cur: 0, max: 0, area: 0, last: now }
  g.area += g.cur * (now - g.last)
  g.last = now
  g.cur += delta
  g.max = Math.max(g.max, g.cur)
  gauges.set(name, g)
}
let first = 0
let lastT = 0
export function mark(): void {
  if (!on) return
  const now = performance.now()
  if (first === 0) first = now
  lastT = now
}
export function report(): void {
  if (!on) return
  const lines = [`TRACE window ${(lastT - first).toFixed(0)} ms (since start ${(performance.now() - t0).toFixed(0)})`]
  for (const [k, s] of sums)
    lines.push(`TRACE ${k}: n=${s.n} total=${s.ms.toFixed(0)}ms avg=${(s.ms / s.n).toFixed(2)} max=${s.max.toFixed(1)}`)
  for (const [k, g] of gauges)
    lines.push(`TRACE gauge ${k}: max=${g.max} avg=${(g.area / Math.max(1, lastT - first)).toFixed(2)}`)
  require('node:fs').appendFileSync(`/tmp/sf-trace-${process.pid}.txt`, `${lines.join('\n')}\n`)
}
if (on) process.on('exit', report)
