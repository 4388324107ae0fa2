import prettyBytes from 'pretty-bytes'
import prettyMilliseconds from 'pretty-ms'

export const bytes = (n: number | undefined): string => (n === undefined ? '–' : prettyBytes(n))
export const speed = (bps: number): string => (bps > 0 ? `${prettyBytes(bps)}/s` : '–')
export const duration = (ms: number): string =>
  Number.isFinite(ms) && ms >= 0
    ? prettyMilliseconds(ms, { secondsDecimalDigits: 0, unitCount: 2 })
    : '–'

/** Time left at the current speed, or a dash when nothing moves. */
export function eta(done: number, total: number, bps: number): string {
  if (total <= done) return '0s'
  return bps > 0 ? duration(((total - done) / bps) * 1000) : '–'
}

export const percent = (done: number, total: number): number =>
  total > 0 ? Math.min(100, Math.floor((done / total) * 100)) : done > 0 ? 100 : 0

/** Last segment of a share path. */
export const baseName = (path: string): string => path.slice(path.lastIndexOf('/') + 1) || path
