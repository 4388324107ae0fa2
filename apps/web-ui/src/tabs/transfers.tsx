import { useState } from 'preact/hooks'
import type { AppState, Store, TransferView } from '../api/store'
import { baseName, bytes, eta, percent, speed } from '../ui/format'

/**
 * A single-file download's bytes with ranges: `/files/downloads/<id>/0` serves the finished file
 * or, while it arrives, the part already here, so a video plays before it has all arrived.
 */
export function transferFileUrl(store: Store, t: TransferView): string {
  return store.api.fileUrl(`downloads/${t.requestId}/0`)
}

const VIDEO = /\.(mp4|m4v|webm|mkv|mov|ogv)$/i
const AUDIO = /\.(mp3|m4a|aac|flac|ogg|oga|opus|wav)$/i

function Player({ src, path, onClose }: { src: string; path: string; onClose: () => void }) {
  return (
    <div
      class="player"
      role="dialog"
      aria-label={`Playing ${baseName(path)}`}
      onKeyDown={(e) => e.key === 'Escape' && onClose()}
    >
      <div class="toolbar">
        <strong>{baseName(path)}</strong>
        <a class="push" href={src} target="_blank" rel="noreferrer">
          open in a new tab
        </a>
        <button type="button" onClick={onClose}>
          Close
        </button>
      </div>
      {VIDEO.test(path) ? (
        // biome-ignore lint/a11y/useMediaCaption: people's own files have no caption tracks
        <video src={src} controls autoPlay playsInline data-testid="player" />
      ) : AUDIO.test(path) ? (
        // biome-ignore lint/a11y/useMediaCaption: people's own files have no caption tracks
        <audio src={src} controls autoPlay data-testid="player" />
      ) : (
        <iframe src={src} title={baseName(path)} data-testid="player" sandbox="" />
      )}
    </div>
  )
}

const ORDER: Record<TransferView['state'], number> = {
  active: 0,
  queued: 1,
  paused: 2,
  failed: 3,
  done: 4,
  cancelled: 5,
}

export function TransfersTab({ store, state }: { store: Store; state: AppState }) {
  const [playing, setPlaying] = useState<TransferView | undefined>()
  const all = [...state.transfers.values()].sort(
    (a, b) => ORDER[a.state] - ORDER[b.state] || (a.position ?? 0) - (b.position ?? 0),
  )
  const act = (run: () => Promise<unknown>) =>
    run()
      .then(() => store.refreshQueue())
      .catch((err) => store.report(err))
  const call = store.api.call.bind(store.api)
  const downloads = all.filter((t) => t.direction === 'download')
  const uploads = all.filter((t) => t.direction === 'upload')
  // Our queue, in its order: what reorder moves.
  const waiting = downloads
    .filter((t) => t.state !== 'done' && t.state !== 'failed')
    .sort((a, b) => (a.position ?? 0) - (b.position ?? 0))

  const row = (t: TransferView) => {
    const pct = percent(t.bytes, t.total)
    const playable = !t.dir && (VIDEO.test(t.path) || AUDIO.test(t.path))
    const pos = waiting.indexOf(t)
    return (
      <li key={t.requestId} class={`transfer ${t.state}`} data-path={t.path}>
        <div class="line">
          <strong class="name" title={t.path}>
            {baseName(t.path)}
          </strong>
          <span class="muted">
            {t.peerName ?? state.peers.get(t.peer)?.name ?? t.peer.slice(0, 8)}
          </span>
          <span class={`status ${t.state}`}>{t.state === 'done' ? 'done' : t.state}</span>
        </div>
        <progress max={100} value={pct} aria-label={`${baseName(t.path)} ${pct}%`} />
        <div class="line muted small-text">
          <span data-testid="percent">{pct} %</span>
          <span>
            {bytes(t.bytes)} of {bytes(t.total)}
          </span>
          {t.dir && t.files !== undefined ? (
            <span>
              {t.filesDone ?? 0} of {t.files} files
            </span>
          ) : null}
          {t.state === 'active' ? (
            <>
              <span>{speed(t.bytesPerSecond)}</span>
              <span>{eta(t.bytes, t.total, t.bytesPerSecond)} left</span>
            </>
          ) : null}
          {t.queuePosition !== undefined && t.state === 'queued' ? (
            <span>#{t.queuePosition} in their upload queue</span>
          ) : null}
          {t.error ? <span class="error">{t.error}</span> : null}
        </div>
        {t.direction === 'download' ? (
          <div class="actions">
            {t.state === 'active' || t.state === 'queued' ? (
              <button
                type="button"
                onClick={() => act(() => call('pause', { requestId: t.requestId }))}
              >
                Pause
              </button>
            ) : null}
            {t.state === 'paused' || t.state === 'failed' ? (
              <button
                type="button"
                onClick={() => act(() => call('resume', { requestId: t.requestId }))}
              >
                Resume
              </button>
            ) : null}
            {t.state !== 'done' ? (
              <button
                type="button"
                onClick={() => act(() => call('cancel', { requestId: t.requestId }))}
              >
                Cancel
              </button>
            ) : null}
            {pos > 0 ? (
              <button
                type="button"
                aria-label={`Move ${baseName(t.path)} up`}
                onClick={() =>
                  act(() => call('reorder', { requestId: t.requestId, position: pos }))
                }
              >
                ↑
              </button>
            ) : null}
            {pos >= 0 && pos < waiting.length - 1 ? (
              <button
                type="button"
                aria-label={`Move ${baseName(t.path)} down`}
                onClick={() =>
                  act(() => call('reorder', { requestId: t.requestId, position: pos + 2 }))
                }
              >
                ↓
              </button>
            ) : null}
            {!t.dir && (t.state === 'done' || (playable && t.bytes > 0)) ? (
              <button type="button" class="primary" onClick={() => setPlaying(t)}>
                {t.state === 'done' ? (playable ? 'Play' : 'Open') : 'Play while downloading'}
              </button>
            ) : null}
          </div>
        ) : null}
      </li>
    )
  }

  return (
    <div class="transfers">
      {playing ? (
        <Player
          src={transferFileUrl(store, playing)}
          path={playing.path}
          onClose={() => setPlaying(undefined)}
        />
      ) : null}
      <h2>Downloads</h2>
      {!state.queueLoaded ? (
        <p class="muted">Loading the queue…</p>
      ) : downloads.length === 0 ? (
        <p class="muted">Nothing downloading. Browse a peer and press Download.</p>
      ) : null}
      <ul class="list">{downloads.map(row)}</ul>
      <h2>Uploads</h2>
      {uploads.length === 0 ? (
        <p class="muted">
          No uploads reported (this version of the peer does not report them yet).
        </p>
      ) : null}
      <ul class="list">{uploads.map(row)}</ul>
    </div>
  )
}
