import type { ApiDownload } from '@harddrive-party/wire-protocol'
import { SingleBar } from 'cli-progress'
import { colours, formatBytes, formatDuration, plural, say } from './output'

/** One line per request, as `hdp queue` prints it. */
export function downloadLine(d: ApiDownload): string {
  const at = d.position === undefined ? '' : ` #${d.position}`
  const why = d.reason ? ` (${d.reason})` : ''
  return `${d.id} ${d.state}${at} ${d.peerName}/${d.path}: ${d.filesDone}/${d.files} files, ${formatBytes(d.bytesDone)} of ${formatBytes(d.size)}${why}`
}

/** What a waiting `download` knows at a moment. */
export interface DownloadView {
  request: ApiDownload
  /** From the latest `transfer` event (0 while nothing moves). */
  bytesPerSecond: number
  /** Why nothing moves, when something is in the way (waiting for the peer, queued, paused). */
  note?: string | undefined
}

/** Shows a download's progress while `download` waits for it; `stop()` before any other output. */
export interface ProgressDisplay {
  update(view: DownloadView): void
  stop(): void
}

/**
 * A bar on a terminal (bytes, speed, ETA, files for a folder); without a terminal, one line per
 * file done and a progress line every `lineEveryMs`; nothing at all for `--json`.
 */
export function progressDisplay(
  mode: 'bar' | 'lines' | 'quiet',
  label: string,
  lineEveryMs = 10_000,
): ProgressDisplay {
  if (mode === 'quiet') return { update() {}, stop() {} }
  return mode === 'bar' ? barDisplay(label) : lineDisplay(label, lineEveryMs)
}

function barDisplay(label: string): ProgressDisplay {
  const bar = new SingleBar({
    format: `${label} [{bar}] {percent} | {amount} | {speed} | {timeLeft}{files}{note}`,
    hideCursor: true,
    clearOnComplete: true,
    barsize: 24,
    stream: process.stdout,
  })
  let started = false
  return {
    update(v) {
      const r = v.request
      const payload = {
        percent: r.expanding ? 'listing' : `${percentOf(r).toFixed(0).padStart(3)}%`,
        amount: `${formatBytes(r.bytesDone)} of ${formatBytes(r.size)}${r.expanding ? '+' : ''}`,
        speed: `${formatBytes(v.bytesPerSecond)}/s`,
        timeLeft: etaText(v),
        files: r.dir ? ` | ${r.filesDone}/${r.files}${r.expanding ? '+' : ''} files` : '',
        note: v.note ? ` | ${colours.yellow(v.note)}` : '',
      }
      if (!started) {
        started = true
        bar.start(Math.max(r.size, 1), r.bytesDone, payload)
      } else {
        bar.setTotal(Math.max(r.size, 1))
        bar.update(r.bytesDone, payload)
      }
    },
    stop() {
      if (started) bar.stop()
      started = false
    },
  }
}

function lineDisplay(label: string, everyMs: number): ProgressDisplay {
  let filesDone = -1
  // The first progress line after `everyMs`: a short download needs none.
  let lastLine = Date.now()
  let lastNote: string | undefined
  return {
    update(v) {
      const r = v.request
      const now = Date.now()
      if (v.note !== lastNote) {
        lastNote = v.note
        if (v.note) say(`${label}: ${v.note}`)
      }
      if (r.dir && r.filesDone !== filesDone && r.filesDone > 0) {
        filesDone = r.filesDone
        lastLine = now
        say(
          `${label}: ${r.filesDone}/${plural(r.files, 'file')} done, ${formatBytes(r.bytesDone)} of ${formatBytes(r.size)}`,
        )
      } else if (r.state === 'active' && now - lastLine >= everyMs && r.size > 0) {
        lastLine = now
        say(
          `${label}: ${percentOf(r).toFixed(0)}%, ${formatBytes(r.bytesDone)} of ${formatBytes(r.size)}, ${formatBytes(v.bytesPerSecond)}/s, ${etaText(v)}`,
        )
      }
      if (filesDone === -1) filesDone = r.filesDone
    },
    stop() {},
  }
}

function percentOf(r: ApiDownload): number {
  return r.size > 0 ? Math.min(100, (100 * r.bytesDone) / r.size) : 0
}

function etaText(v: DownloadView): string {
  const r = v.request
  if (r.expanding || v.bytesPerSecond <= 0 || r.bytesDone >= r.size) return 'ETA -'
  return `ETA ${formatDuration(Math.ceil((r.size - r.bytesDone) / v.bytesPerSecond) * 1000)}`
}

/** The last line of a download that completed. */
export function doneLine(r: ApiDownload, elapsedMs: number): string {
  const speed = elapsedMs > 0 ? `, ${formatBytes((r.bytesDone * 1000) / elapsedMs)}/s` : ''
  const what = r.dir ? `${plural(r.files, 'file')}, ` : ''
  return `downloaded ${r.peerName}/${r.path}: ${what}${formatBytes(r.bytesDone)} in ${formatDuration(elapsedMs)}${speed} → ${r.localPath}`
}
