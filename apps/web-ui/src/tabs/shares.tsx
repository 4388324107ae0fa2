import { useEffect, useState } from 'preact/hooks'
import type { AppState, Store } from '../api/store'
import { type EntryView, isObj, toEntries } from '../api/views'
import { bytes } from '../ui/format'

/** Our own shared folders: add, remove, rescan; totals and what the scan skipped. */
export function SharesTab({ store, state }: { store: Store; state: AppState }) {
  const [shares, setShares] = useState<EntryView[] | undefined>()
  const [busy, setBusy] = useState<string | undefined>()
  const [scan, setScan] = useState<string[]>([])

  const load = () =>
    store.api
      .collect({ type: 'shares', path: '' })
      .then((r) => setShares(r.flatMap((d) => toEntries(d))))
      .catch((err) => store.report(err))
  // Totals change after a scan: list again then.
  useEffect(() => void load(), [state.shares.files, state.shares.bytes, state.connection])

  const run = async (label: string, command: Parameters<Store['api']['request']>[0]) => {
    setBusy(label)
    setScan([])
    try {
      // A rescan or an add streams progress results: show the latest lines.
      await store.api.request(command, (d) => {
        const line = isObj(d)
          ? [
              d.files !== undefined ? `${String(d.files)} files` : '',
              typeof d.bytes === 'number' ? bytes(d.bytes) : '',
              typeof d.path === 'string' ? d.path : '',
            ]
              .filter(Boolean)
              .join(' · ')
          : String(d)
        setScan((s) => [...s.slice(-4), line])
        if (isObj(d) && Array.isArray(d.skipped)) {
          const skipped = d.skipped.flatMap((x) =>
            isObj(x) ? [{ path: String(x.path ?? ''), reason: String(x.reason ?? '') }] : [],
          )
          store.update({ shares: { ...store.state.shares, skipped } })
        }
      })
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
    if (dir) void run(`Adding ${dir}`, { type: 'add-share', dir }).then(() => form.reset())
  }
  const total = shares?.reduce((n, s) => n + s.size, 0) ?? 0
  const files = shares?.reduce((n, s) => n + (s.files ?? 0), 0) ?? 0

  return (
    <div class="shares">
      <p class="totals" data-testid="share-totals">
        You share <strong>{bytes(state.shares.bytes ?? total)}</strong> in{' '}
        <strong>{state.shares.files ?? files}</strong> files.
      </p>
      <form class="row" onSubmit={add}>
        <input
          name="dir"
          placeholder="/path/to/a/folder on the peer's machine"
          aria-label="Folder to share"
        />
        <button type="submit" disabled={!!busy}>
          Add share
        </button>
        <button
          type="button"
          disabled={!!busy}
          onClick={() => void run('Rescanning', { type: 'rescan' })}
        >
          Rescan
        </button>
      </form>
      {busy ? (
        <div class="progress-note" role="status">
          <span class="spinner" aria-hidden="true" /> {busy}… {scan.at(-1) ?? ''}
        </div>
      ) : null}
      <ul class="list">
        {shares?.length === 0 ? (
          <li class="muted">Nothing shared yet: add a folder above.</li>
        ) : null}
        {shares?.map((s) => (
          <li key={s.path} class="card">
            <div>
              <strong>{s.path}</strong>
              <div class="muted small-text">
                {bytes(s.size)}
                {s.files !== undefined ? ` · ${s.files} files` : ''}
              </div>
            </div>
            <button
              type="button"
              disabled={!!busy}
              onClick={() => void run(`Removing ${s.path}`, { type: 'remove-share', name: s.path })}
            >
              Remove
            </button>
          </li>
        ))}
      </ul>
      {state.shares.skipped.length > 0 ? (
        <details>
          <summary>{state.shares.skipped.length} skipped during the last scan</summary>
          <ul>
            {state.shares.skipped.map((s) => (
              <li key={s.path}>
                <code>{s.path}</code>: {s.reason}
              </li>
            ))}
          </ul>
        </details>
      ) : null}
    </div>
  )
}
