import { execFileSync } from 'node:child_process'

export function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b)
  return s[Math.floor(s.length / 2)] as number
}

export function percentile(xs: number[], p: number): number {
  const s = [...xs].sort((a, b) => a - b)
  return s[Math.min(s.length - 1, Math.floor((p / 100) * s.length))] as number
}

export async function timeMs(fn: () => unknown): Promise<number> {
  const t = performance.now()
  await fn()
  return performance.now() - t
}

/** Prints rows as an aligned table (first row is the header). */
export function table(rows: (string | number)[][]): void {
  const cells = rows.map((r) =>
    r.map((c) => (typeof c === 'number' ? c.toFixed(c < 10 ? 2 : 0) : c)),
  )
  const widths = cells[0]?.map((_, i) => Math.max(...cells.map((r) => (r[i] ?? '').length))) ?? []
  const line = (r: string[]) => `| ${r.map((c, i) => c.padEnd(widths[i] ?? 0)).join(' | ')} |`
  process.stdout.write(`${line(cells[0] ?? [])}\n`)
  process.stdout.write(`| ${widths.map((w) => '-'.repeat(w)).join(' | ')} |\n`)
  for (const r of cells.slice(1)) process.stdout.write(`${line(r)}\n`)
}

export function freeDiskGb(dir: string): number {
  const out = execFileSync('df', ['-Pk', dir]).toString().trim().split('\n').at(-1) ?? ''
  return Number(out.split(/\s+/)[3]) / 1024 / 1024
}
