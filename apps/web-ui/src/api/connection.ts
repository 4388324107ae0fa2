import {
  type ApiCommand,
  type ApiEvent,
  decodeApiServerMessage,
  encodeApiMessage,
} from '@harddrive-party/wire-protocol'

/**
 * The one WebSocket to our peer: requests with ids, results streamed back, events pushed.
 * It reconnects by itself; pages only look at `state` to show a banner.
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

export interface ApiConnection {
  readonly state: ConnectionState
  /** Sends a command; `onResult` sees each streamed result; resolves at the end. */
  request(command: ApiCommand, onResult?: (data: unknown) => void): Promise<void>
  /** Sends a command and collects its results. */
  collect(command: ApiCommand): Promise<unknown[]>
  onEvent(fn: (event: ApiEvent) => void): () => void
  onState(fn: (state: ConnectionState) => void): () => void
  close(): void
}

export interface ConnectOptions {
  /** `http://host:port` of the peer's API server. */
  origin: string
  token: string
  /** Retry delays after a lost connection; the last one repeats. */
  retryMs?: readonly number[]
}

interface Pending {
  onResult: ((data: unknown) => void) | undefined
  resolve: () => void
  reject: (err: Error) => void
}

const DEFAULT_RETRY_MS = [300, 1000, 2000, 4000]

export function apiUrl(origin: string, path: string, token: string): string {
  const url = new URL(path, origin)
  url.searchParams.set('token', token)
  return url.href
}

export function connectApi(options: ConnectOptions): ApiConnection {
  const retryMs = options.retryMs ?? DEFAULT_RETRY_MS
  const eventFns = new Set<(event: ApiEvent) => void>()
  const stateFns = new Set<(state: ConnectionState) => void>()
  const pending = new Map<number, Pending>()
  const queued: Uint8Array[] = []
  let nextId = 1
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

  const failPending = (message: string) => {
    for (const p of pending.values()) p.reject(new ApiRequestError('PEER_UNAVAILABLE', message))
    pending.clear()
    queued.length = 0
  }

  // A WebSocket refused at the handshake tells the page nothing about why; one plain HTTP call
  // does: 401/403 means the token is wrong, anything else that the peer is away.
  const explainFailure = async () => {
    try {
      const res = await fetch(apiUrl(options.origin, '/api/info', options.token), {
        cache: 'no-store',
      })
      return res.status === 401 || res.status === 403 ? 'unauthorized' : 'unreachable'
    } catch {
      return 'unreachable'
    }
  }

  const open = () => {
    if (closed) return
    const wsUrl = apiUrl(options.origin, '/api/ws', options.token).replace(/^http/, 'ws')
    const ws = new WebSocket(wsUrl)
    ws.binaryType = 'arraybuffer'
    socket = ws
    let opened = false
    ws.onopen = () => {
      opened = true
      failures = 0
      setState('open')
      for (const frame of queued.splice(0)) ws.send(frame)
    }
    ws.onmessage = (ev) => {
      if (!(ev.data instanceof ArrayBuffer)) return
      let msg: ReturnType<typeof decodeApiServerMessage>
      try {
        msg = decodeApiServerMessage(new Uint8Array(ev.data))
      } catch {
        return // a frame we cannot read is dropped, never fatal
      }
      if (msg.type === 'event') {
        for (const fn of eventFns) fn(msg.event)
        return
      }
      const p = pending.get(msg.id)
      if (!p) return
      if (msg.type === 'result') p.onResult?.(msg.data)
      else {
        pending.delete(msg.id)
        if (msg.type === 'end') p.resolve()
        else p.reject(new ApiRequestError(msg.code, msg.message))
      }
    }
    ws.onclose = async () => {
      if (socket !== ws) return
      socket = undefined
      failPending('the connection to the peer was lost')
      if (closed) return
      const why = opened ? 'unreachable' : await explainFailure()
      if (closed) return
      setState(why)
      const delay = retryMs[Math.min(failures, retryMs.length - 1)] ?? 1000
      failures++
      retryTimer = setTimeout(open, why === 'unauthorized' ? delay * 5 : delay)
    }
  }

  open()

  const connection: ApiConnection = {
    get state() {
      return state
    },
    request(command, onResult) {
      const id = nextId++
      return new Promise<void>((resolve, reject) => {
        if (state !== 'open' && state !== 'connecting') {
          reject(new ApiRequestError('PEER_UNAVAILABLE', 'the peer is not reachable right now'))
          return
        }
        pending.set(id, { onResult, resolve, reject })
        const frame = encodeApiMessage({ id, command })
        if (socket && socket.readyState === WebSocket.OPEN) socket.send(frame)
        else queued.push(frame)
      })
    },
    async collect(command) {
      const out: unknown[] = []
      await connection.request(command, (d) => out.push(d))
      return out
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
      failPending('closed')
    },
  }
  return connection
}
