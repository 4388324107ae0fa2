import {
  type ApiCommandBody,
  type ApiEntryPage,
  type ApiEvent,
  type ApiPeerError,
  type ApiResults,
  type ApiServedCommandType,
  decodeApiEventJson,
} from '@harddrive-party/wire-protocol'
import WebSocket from 'ws'
import { ApiError, apiErrorCode } from './api-error'

export interface ApiClientOptions {
  /** The control API's base URL, e.g. `http://127.0.0.1:3030`. */
  url: string
  /** The token from the peer's storage directory (`api-token`). */
  token: string
}

export interface ApiClientCallOptions {
  signal?: AbortSignal
}

/** Commands answered with one JSON document (`ls` streams; see {@link ApiClient.ls}). */
export type ApiCallType = Exclude<ApiServedCommandType, 'ls'>

/**
 * A typed client of a peer's control API (docs/api.md): `fetch` for commands, a WebSocket for
 * events. Errors are {@link ApiError}s carrying the server's code.
 */
export interface ApiClient {
  readonly url: string
  /** Runs one command; `body` holds the command's fields (none for most). */
  call<T extends ApiCallType>(
    type: T,
    body?: ApiCommandBody<T>,
    options?: ApiClientCallOptions,
  ): Promise<ApiResults[T]>
  /** Lists or searches one peer (or every connected peer): pages and peer errors as they come. */
  ls(
    body: ApiCommandBody<'ls'>,
    options?: ApiClientCallOptions,
  ): AsyncGenerator<ApiEntryPage | ApiPeerError>
  /** Live events until `signal` aborts or the server closes the socket. */
  events(options?: ApiClientCallOptions): AsyncGenerator<ApiEvent>
  /** URL of `/files/<path>` (`path` e.g. `shares/music/a.mp3` or `peer/<key>/music/a.mp3`). */
  fileUrl(path: string, options?: { withToken?: boolean }): string
}

/** Events held for a slow consumer before the client gives up on the socket. */
const MAX_QUEUED_EVENTS = 10_000

export function createApiClient(options: ApiClientOptions): ApiClient {
  const base = new URL(options.url)
  const auth = { authorization: `Bearer ${options.token}` }

  async function post(type: string, body: unknown, signal?: AbortSignal): Promise<Response> {
    const res = await fetch(new URL(`/api/${type}`, base), {
      method: 'POST',
      headers: { ...auth, 'content-type': 'application/json' },
      body: JSON.stringify(body ?? {}),
      ...(signal ? { signal } : {}),
    })
    if (!res.ok) throw await errorOf(res)
    return res
  }

  return {
    url: base.href,
    async call(type, body, callOptions = {}) {
      const res = await post(type, body, callOptions.signal)
      return (await res.json()) as never
    },
    async *ls(body, callOptions = {}) {
      const res = await post('ls', body, callOptions.signal)
      if (res.body === null) throw new ApiError('INTERNAL', 'empty ls answer')
      for await (const line of ndjsonLines(res.body)) {
        const item = JSON.parse(line) as ApiEntryPage | ApiPeerError | { type: 'end' }
        if (item.type === 'end') return
        yield item
      }
      throw new ApiError('PEER_UNAVAILABLE', 'the listing ended without its end line')
    },
    events: (callOptions = {}) => eventStream(base, auth, callOptions.signal),
    fileUrl(path, urlOptions = {}) {
      const url = new URL(`/files/${path.split('/').map(encodeURIComponent).join('/')}`, base)
      if (urlOptions.withToken) url.searchParams.set('token', options.token)
      return url.href
    },
  }
}

async function errorOf(res: Response): Promise<ApiError> {
  try {
    const body = (await res.json()) as { error?: { code?: unknown; message?: unknown } }
    const message = typeof body.error?.message === 'string' ? body.error.message : res.statusText
    return new ApiError(apiErrorCode(body.error?.code), message)
  } catch {
    return new ApiError('INTERNAL', `HTTP ${res.status} ${res.statusText}`)
  }
}

async function* ndjsonLines(body: ReadableStream<Uint8Array>): AsyncGenerator<string> {
  const decoder = new TextDecoder()
  let pending = ''
  for await (const chunk of body as unknown as AsyncIterable<Uint8Array>) {
    pending += decoder.decode(chunk, { stream: true })
    let nl = pending.indexOf('\n')
    while (nl !== -1) {
      const line = pending.slice(0, nl)
      pending = pending.slice(nl + 1)
      if (line.trim() !== '') yield line
      nl = pending.indexOf('\n')
    }
  }
  if (pending.trim() !== '') yield pending
}

async function* eventStream(
  base: URL,
  headers: Record<string, string>,
  signal: AbortSignal | undefined,
): AsyncGenerator<ApiEvent> {
  const url = new URL('/api/events', base)
  url.protocol = base.protocol === 'https:' ? 'wss:' : 'ws:'
  const ws = new WebSocket(url, { headers })
  const queue: ApiEvent[] = []
  let failure: Error | undefined
  let closed = false
  let wake: (() => void) | undefined
  const poke = () => {
    wake?.()
    wake = undefined
  }
  ws.on('message', (data, isBinary) => {
    try {
      if (isBinary) throw new ApiError('INTERNAL', 'binary event frame')
      const msg = JSON.parse(String(data)) as { type?: unknown; event?: unknown }
      if (msg.type !== 'event') return
      if (queue.length >= MAX_QUEUED_EVENTS) throw new ApiError('BUSY', 'events not consumed')
      queue.push(decodeApiEventJson(msg.event))
    } catch (err) {
      failure = err instanceof Error ? err : new Error(String(err))
      ws.terminate()
    }
    poke()
  })
  ws.on('unexpected-response', (_req, res) => {
    failure = new ApiError(
      res.statusCode === 401 ? 'UNAUTHORIZED' : 'FORBIDDEN',
      `HTTP ${res.statusCode}`,
    )
    ws.terminate()
    poke()
  })
  ws.on('error', (err) => {
    failure ??= err
    poke()
  })
  ws.on('close', () => {
    closed = true
    poke()
  })
  const onAbort = () => ws.close(1000)
  signal?.addEventListener('abort', onAbort, { once: true })
  try {
    while (true) {
      const next = queue.shift()
      if (next !== undefined) {
        yield next
        continue
      }
      if (failure) throw failure
      if (closed || signal?.aborted) return
      await new Promise<void>((resolve) => {
        wake = resolve
      })
    }
  } finally {
    signal?.removeEventListener('abort', onAbort)
    if (ws.readyState !== WebSocket.CLOSED) ws.terminate()
  }
}
