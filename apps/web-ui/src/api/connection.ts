import {
  type ApiCommandBody,
  type ApiEntryPage,
  type ApiErrorBody,
  type ApiEvent,
  type ApiPeerError,
  type ApiResults,
  type ApiServedCommandType,
  decodeApiEventJson,
} from '@harddrive-party/wire-protocol'

/**
 * The page's link to its peer's control API (docs/api.md): `POST /api/<command>` for commands,
 * NDJSON for `ls`, and one WebSocket (`/api/events`) for live events. The socket reconnects by
 * itself; pages look at `state` to show a banner.
 */
export type ConnectionState = 'connecting' | 'open' | 'unreachable' | 'unauthorized'

export class ApiRequestError extends Error {
  override name = 'ApiRequestError'
  constructor(
    readonly code: string,
    message: string,
  ) {
    super(message)
  }
}

/** Commands with one JSON answer; `ls` streams (see `ls`). */
export type CallType = Exclude<ApiServedCommandType, 'ls'>

export interface ApiConnection {
  readonly state: ConnectionState
  call<T extends CallType>(type: T, body?: ApiCommandBody<T>): Promise<ApiResults[T]>
  /** Streams a listing or search; `onPage` sees each page or peer error as it arrives. */
  ls(
    body: ApiCommandBody<'ls'>,
    onPage: (page: ApiEntryPage | ApiPeerError) => void,
    signal?: AbortSignal,
  ): Promise<void>
  /** `/files/<path>` with the token, for `<video src>` and links. */
  fileUrl(path: string): string
  onEvent(fn: (event: ApiEvent) => void): () => void
  onState(fn: (state: ConnectionState) => void): () => void
  close(): void
}

export interface ConnectOptions {
  /** `http://host:port` of the peer's API server. */
  origin: string
  token: string
  /** Retry delays after a lost event socket; the last one repeats. */
  retryMs?: readonly number[]
}

const DEFAULT_RETRY_MS = [300, 1000, 2000, 4000]
/** Bound on one NDJSON line: a page of entries is far below this. */
const MAX_LINE_CHARS = 8 * 1024 * 1024

export function connectApi(options: ConnectOptions): ApiConnection {
  const retryMs = options.retryMs ?? DEFAULT_RETRY_MS
  const eventFns = new Set<(event: ApiEvent) => void>()
  const stateFns = new Set<(state: ConnectionState) => void>()
  const auth = { authorization: `Bearer ${options.token}` }
  let state: ConnectionState = 'connecting'
  let socket: WebSocket | undefined
  let failures = 0
  let closed = false
  let retryTimer: ReturnType<typeof setTimeout> | undefined

  const setState = (next: ConnectionState) => {
    if (next === state) return
    state = next
    for (const fn of stateFns) fn(next)
  }

  const post = async (type: string, body: unknown, signal?: AbortSignal): Promise<Response> => {
    let res: Response
    try {
      res = await fetch(new URL(`/api/${type}`, options.origin), {
        method: 'POST',
        headers: { ...auth, 'content-type': 'application/json' },
        body: JSON.stringify(body ?? {}),
        cache: 'no-store',
        ...(signal ? { signal } : {}),
      })
    } catch (err) {
      if (signal?.aborted) throw err
      throw new ApiRequestError('PEER_UNAVAILABLE', 'your peer is not reachable')
    }
    if (res.ok) return res
    if (res.status === 401) setState('unauthorized')
    let code = 'INTERNAL'
    let message = `HTTP ${res.status}`
    try {
      const e = ((await res.json()) as ApiErrorBody).error
      code = String(e.code)
      message = String(e.message)
    } catch {
      // not a JSON error body: keep the status line
    }
    throw new ApiRequestError(code, message)
  }

  const url = (path: string) => {
    const u = new URL(path, options.origin)
    u.searchParams.set('token', options.token)
    return u
  }

  // A WebSocket refused at the handshake tells the page nothing about why; one plain HTTP call
  // does: 401 means the token is wrong, anything else that the peer is away.
  const explainFailure = async (): Promise<ConnectionState> => {
    try {
      await post('info', {})
      return 'unreachable'
    } catch (err) {
      return err instanceof ApiRequestError && err.code === 'UNAUTHORIZED'
        ? 'unauthorized'
        : 'unreachable'
    }
  }

  const open = () => {
    if (closed) return
    const u = url('/api/events')
    u.protocol = u.protocol === 'https:' ? 'wss:' : 'ws:'
    const ws = new WebSocket(u)
    socket = ws
    let opened = false
    ws.onopen = () => {
      opened = true
      failures = 0
      setState('open')
    }
    ws.onmessage = (ev) => {
      if (typeof ev.data !== 'string') return
      let event: ApiEvent
      try {
        const msg = JSON.parse(ev.data) as { type?: unknown; event?: unknown }
        if (msg.type !== 'event') return
        event = decodeApiEventJson(msg.event)
      } catch {
        return // an event we cannot read is dropped, never fatal
      }
      for (const fn of eventFns) fn(event)
    }
    ws.onclose = async () => {
      if (socket !== ws) return
      socket = undefined
      if (closed) return
      const why = opened ? 'unreachable' : await explainFailure()
      if (closed) return
      setState(why)
      const delay = retryMs[Math.min(failures, retryMs.length - 1)] ?? 1000
      failures++
      retryTimer = setTimeout(open, delay)
    }
  }

  open()

  return {
    get state() {
      return state
    },
    async call(type, body) {
      return (await (await post(type, body)).json()) as never
    },
    async ls(body, onPage, signal) {
      const res = await post('ls', body, signal)
      if (!res.body) throw new ApiRequestError('INTERNAL', 'empty listing')
      const reader = res.body.pipeThrough(new TextDecoderStream()).getReader()
      let pending = ''
      for (;;) {
        const { done, value } = await reader.read()
        if (value) pending += value
        if (pending.length > MAX_LINE_CHARS)
          throw new ApiRequestError('TOO_LARGE', 'a listing line is too long')
        let nl = pending.indexOf('\n')
        while (nl !== -1 || (done && pending.trim())) {
          const line = nl === -1 ? pending : pending.slice(0, nl)
          pending = nl === -1 ? '' : pending.slice(nl + 1)
          if (line.trim()) {
            const item = JSON.parse(line) as ApiEntryPage | ApiPeerError | { type: 'end' }
            if (item.type === 'end') return
            onPage(item)
          }
          nl = pending.indexOf('\n')
        }
        if (done) throw new ApiRequestError('PEER_UNAVAILABLE', 'the listing ended early')
      }
    },
    fileUrl(path) {
      return url(`/files/${path.split('/').map(encodeURIComponent).join('/')}`).href
    },
    onEvent(fn) {
      eventFns.add(fn)
      return () => eventFns.delete(fn)
    },
    onState(fn) {
      stateFns.add(fn)
      return () => stateFns.delete(fn)
    },
    close() {
      closed = true
      clearTimeout(retryTimer)
      socket?.close()
    },
  }
}
