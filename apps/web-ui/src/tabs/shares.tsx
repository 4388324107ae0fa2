import type { ApiShare } from '@harddrive-party/wire-protocol'
import { useEffect, useState } from 'preact/hooks'
import type { AppState, Store } from '../api/store'
import { bytes, duration } from '../ui/format'

/** Our own shared folders: add, remove, rescan; totals, scan progress and what was skipped. */
export function SharesTab({ store, state }: { store: Store; state: AppState }) {
  const [shares, setShares] = useState<ApiShare[] | undefined>()
  const [busy, setBusy] = useState<string | undefined>()
  const [note, setNote] = useState<string | undefined>()

  const load = () =>
    store.api
      .call('shares')
      .then((r) => {
        setShares(r.shares)
        store.update({ shareTotals: { files: r.files, bytes: r.bytes } })
      })
      .catch((err) => store.report(err))
  const totals = state.shareTotals
  useEffect(() => void load(), [totals?.files, totals?.bytes, state.connection])

  const run = async (label: string, action: () => Promise<string>) => {
    setBusy(label)
    setNote(undefined)
    try {
      setNote(await action())
      await load()
    } catch (err) {
      store.report(err)
    } finally {
      setBusy(undefined)
    }
  }

  const add = (e: Event) => {
    e.preventDefault()
    const form = e.target as HTMLFormElement
    const dir = String(new FormData(form).get('dir') ?? '').trim()
    if (!dir) return
    void run(`Adding ${dir}`, async () => {
      const r = await store.api.call('add-share', { dir })
      form.reset()
      return `Added “${r.share.name}” (${r.share.root}); its totals show below once scanned.`
    })
  }
  const rescan = () =>
    run('Rescanning', async () => {
      const r = await store.api.call('rescan')
      const changed = r.shares.reduce((n, s) => n + s.changed, 0)
      return `Rescanned in ${duration(r.durationMs)}: ${r.files} files, ${bytes(r.bytes)}, ${changed} changed.`
    })
  const remove = (name: string) =>
    run(`Removing ${name}`, async () => {
      const r = await store.api.call('remove-share', { name })
      return r.removed ? `Stopped sharing “${name}”.` : `“${name}” was not shared.`
    })
  const scanning = [...state.scans.values()].filter((s) => !s.done)

  return (
    <div class="shares">
      <p class="totals" data-testid="share-totals">
        You share <strong>{bytes(totals?.bytes ?? 0)}</strong> in{' '}
        <strong>{totals?.files ?? 0}</strong> files.
      </p>
      <form class="row" onSubmit={add}>
        <input name="dir" placeholder="Folder path, e.g. /srv/media" aria-label="Folder to share" />
        <button type="submit" disabled={!!busy}>
          Add share
        </button>
        <button type="button" disabled={!!busy} onClick={() => void rescan()}>
          Rescan
        </button>
      </form>
      {busy || scanning.length ? (
        <div class="progress-note" role="status">
          <span class="spinner" aria-hidden="true" /> {busy ?? 'Scanning'}…{' '}
          {scanning.map((s) => `${s.share}: ${s.files} files, ${bytes(s.bytes)}`).join('; ')}
        </div>
      ) : note ? (
        <p role="status">{note}</p>
      ) : null}
      <ul class="list">
        {shares?.length === 0 ? (
          <li class="muted">Nothing shared yet: add a folder above.</li>
        ) : null}
        {shares?.map((s) => {
          const scan = state.scans.get(s.name)
          return (
            <li key={s.name} class="card" data-share={s.name}>
              <div>
                <strong>{s.name}</strong> <span class="muted small-text">{s.root}</span>
                <div class="muted small-text">
                  {bytes(s.bytes)} · {s.files} files
                  {s.scannedAt ? ` · scanned ${new Date(s.scannedAt).toLocaleString()}` : ''}
                  {scan && scan.skipped > 0
                    ? ` · ${scan.skipped} skipped (unreadable, special files or links leaving the folder)`
                    : ''}
                </div>
              </div>
              <button type="button" disabled={!!busy} onClick={() => void remove(s.name)}>
                Remove
              </button>
            </li>
          )
        })}
      </ul>
    </div>
  )
}
