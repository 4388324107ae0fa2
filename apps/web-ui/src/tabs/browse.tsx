import { useEffect, useMemo, useState } from 'preact/hooks'
import type { AppState, Store, TransferView } from '../api/store'
import { type EntryView, type PeerView, pageEntries } from '../api/views'
import { baseName, bytes } from '../ui/format'
import { VirtualList } from '../ui/virtual-list'

interface Folder {
  children: EntryView[]
  loading: boolean
  error?: string
  sorted?: { key: SortKey; length: number; list: EntryView[] }
}
type SortKey = 'name' | 'size'
interface Row {
  entry: EntryView
  depth: number
  open: boolean
  loading: boolean
}

const ROW_HEIGHT = 40
/** Entries per `ls` call: big folders come in few round trips (the API allows 10,000). */
const PAGE_ENTRIES = 5000

/** What we already do with a path of this peer: queued, downloading, done. */
export function transferStatus(transfers: Map<string, TransferView>, peer: PeerView, path: string) {
  let found: TransferView['state'] | undefined
  for (const t of transfers.values()) {
    if (t.direction !== 'download' || (t.peer !== peer.key && t.peer !== peer.name)) continue
    // The path itself or a folder above it was asked for; a download inside a folder does not
    // mark the whole folder.
    if (t.path === path || path.startsWith(`${t.path}/`)) {
      if (t.state !== 'done' || found === undefined) found = t.state
    }
  }
  return found
}

const collator = new Intl.Collator(undefined, { numeric: true })

/** A folder's children in the chosen order, sorted again only when the folder grew. */
function sortedChildren(f: Folder, key: SortKey): EntryView[] {
  const cached = f.sorted
  if (cached && cached.key === key && cached.length === f.children.length) return cached.list
  const list = [...f.children].sort((a, b) =>
    key === 'size' ? b.size - a.size : collator.compare(a.path, b.path),
  )
  f.sorted = { key, length: f.children.length, list }
  return list
}

/** A peer's shares as a lazily expanded tree: a folder is listed when first opened. */
export function Browser({ store, state, peer }: { store: Store; state: AppState; peer: PeerView }) {
  const [folders, setFolders] = useState(() => new Map<string, Folder>())
  const [open, setOpen] = useState(() => new Set<string>())
  const [sort, setSort] = useState<SortKey>('name')

  const load = (path: string) => {
    if (folders.has(path)) return
    const folder: Folder = { children: [], loading: true }
    const next = new Map(folders)
    next.set(path, folder)
    setFolders(next)
    // Pages show as they arrive, redrawn at most every 200 ms: a big folder comes in many pages.
    let redrawing = false
    const bump = () => {
      if (redrawing) return
      redrawing = true
      setTimeout(() => {
        redrawing = false
        setFolders((m) => new Map(m))
      }, 200)
    }
    // Pages stream in and show as they arrive; a page with a cursor means more: ask again.
    const more = async () => {
      let cursor: string | undefined
      do {
        const body: { peer: string; path: string; limit: number; cursor?: string } = {
          peer: peer.key,
          path,
          limit: PAGE_ENTRIES,
        }
        if (cursor !== undefined) body.cursor = cursor
        cursor = undefined
        await store.api.ls(body, (page) => {
          if (page.type === 'peer-error') folder.error = page.message
          else {
            folder.children.push(...pageEntries(page).filter((e) => e.path !== path))
            cursor = page.cursor
          }
          bump()
        })
      } while (cursor !== undefined && !folder.error)
    }
    more()
      .catch((err: Error) => {
        folder.error = err.message
      })
      .finally(() => {
        folder.loading = false
        bump()
      })
  }
  useEffect(() => load(''), [peer.key])

  const toggle = (path: string) => {
    const next = new Set(open)
    if (next.has(path)) next.delete(path)
    else {
      next.add(path)
      load(path)
    }
    setOpen(next)
  }

  const rows = useMemo(() => {
    const out: Row[] = []
    const walk = (path: string, depth: number) => {
      const f = folders.get(path)
      if (!f) return
      for (const entry of sortedChildren(f, sort)) {
        const isOpen = entry.dir && open.has(entry.path)
        out.push({
          entry,
          depth,
          open: isOpen,
          loading: isOpen && !!folders.get(entry.path)?.loading,
        })
        if (isOpen) walk(entry.path, depth + 1)
      }
    }
    walk('', 0)
    return out
  }, [folders, open, sort])

  const download = (path: string) => store.download(peer.key, path)

  const root = folders.get('')
  return (
    <section class="browser" aria-label={`Shares of ${peer.name}`}>
      <div class="toolbar">
        <strong>{peer.name}</strong>
        <span class="muted">{root?.loading ? 'listing…' : `${rows.length} shown`}</span>
        <label class="push">
          Sort{' '}
          <select
            value={sort}
            onChange={(e) => setSort((e.target as HTMLSelectElement).value as SortKey)}
          >
            <option value="name">by name</option>
            <option value="size">by size</option>
          </select>
        </label>
      </div>
      {root?.error ? <p class="error">Could not list: {root.error}</p> : null}
      {root && !root.loading && root.children.length === 0 && !root.error ? (
        <p class="muted">{peer.name} shares nothing yet.</p>
      ) : null}
      <VirtualList
        items={rows}
        rowHeight={ROW_HEIGHT}
        label={`Files of ${peer.name}`}
        class="tree"
        render={(row) => {
          const status = transferStatus(state.transfers, peer, row.entry.path)
          return (
            <div
              class="entry"
              style={{ paddingLeft: `${row.depth * 16 + 4}px` }}
              data-path={row.entry.path}
            >
              {row.entry.dir ? (
                <button
                  type="button"
                  class="twisty"
                  aria-expanded={row.open}
                  aria-label={`${row.open ? 'Collapse' : 'Expand'} ${baseName(row.entry.path)}`}
                  onClick={() => toggle(row.entry.path)}
                >
                  {row.open ? '▾' : '▸'}
                </button>
              ) : (
                // A file has nothing to open: an empty slot keeps names aligned with folders'.
                <span class="twisty" aria-hidden="true" />
              )}
              <span class="name" title={row.entry.path}>
                {baseName(row.entry.path)}
                {row.entry.dir ? '/' : ''}
                {row.loading ? <span class="muted"> listing…</span> : null}
              </span>
              <span class="size">
                {bytes(row.entry.size)}
                {row.entry.dir && row.entry.files !== undefined ? (
                  <small> · {row.entry.files} files</small>
                ) : null}
              </span>
              {status ? (
                <span class={`status ${status}`}>{status === 'done' ? 'downloaded' : status}</span>
              ) : (
                <button
                  type="button"
                  class="small"
                  onClick={() => download(row.entry.path)}
                  aria-label={`Download ${baseName(row.entry.path)}`}
                >
                  Download
                </button>
              )}
            </div>
          )
        }}
      />
    </section>
  )
}
