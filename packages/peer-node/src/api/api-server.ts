import fastifyStatic from '@fastify/static'
import websocket from '@fastify/websocket'
import type { Logger } from '@harddrive-party/wire-protocol'
import {
  type ApiCommand,
  type ApiErrorBody,
  type ApiEvent,
  type ApiLimits,
  decodeApiCommandJson,
} from '@harddrive-party/wire-protocol'
import Fastify, { type FastifyInstance, type FastifyReply } from 'fastify'
import { defaultLogger } from '../logger'
import type { PeerNode } from '../types'
import { type CommandContext, isServed, listCommand, runCommand } from './api-commands'
import { ApiError, publicMessage, toApiError } from './api-error'
import { EventsHub } from './api-events-hub'
import { serveFile } from './api-files'
import { answerSocket } from './api-socket'
import { loadOrCreateApiToken } from './api-token'
import { forwardNodeEvents } from './node-events'
import { allowedHosts, isLoopback, RequestGuard, TOKEN_COOKIE } from './request-guard'

export interface ApiServerOptions {
  /** A started node. */
  node: PeerNode
  /** Address to bind. Default `'127.0.0.1'`; anything else is logged as exposed (the token still guards it). */
  host?: string
  /** Default 3030; 0 picks a free port. */
  port?: number
  /** The web UI's built files (`apps/web-ui/dist`), served at `/`. Default: none. */
  webRoot?: string
  /** More `host:port` values a browser may use (e.g. `nas.local:3030`); loopback and bound addresses are always allowed. */
  allowedHosts?: readonly string[]
  /** Largest request body. Default 65536. */
  maxBodyBytes?: number
  /** A WebSocket whose unsent messages exceed this is closed. Default 1 MiB. */
  maxWebSocketQueueBytes?: number
  /** What `stop` does after answering. Default: stops this server, then the node. */
  onStop?: () => void
  logger?: Logger
}

export interface ApiServer {
  start(): Promise<void>
  stop(): Promise<void>
  [Symbol.asyncDispose](): Promise<void>
  /** `http://host:port/` once started. */
  readonly url: string
  /** The URL with `?token=` for a browser's first load (print it; never log it). */
  readonly urlWithToken: string
  readonly token: string
  /** True when bound beyond loopback. */
  readonly exposed: boolean
  /** Pushes an event to every controller (for parts of the node the server does not watch). */
  emit(event: ApiEvent): void
}

export function createApiServer(options: ApiServerOptions): ApiServer {
  return new ControlApiServer(options)
}

class ControlApiServer implements ApiServer {
  readonly #o: ApiServerOptions
  readonly #log: Logger
  readonly #limits: ApiLimits['api']
  readonly #hub: EventsHub
  #app: FastifyInstance | undefined
  #token = ''
  #url = ''
  #unsubscribe: (() => void) | undefined
  #shutdown = new AbortController()
  #starting: Promise<void> | undefined
  #stopping: Promise<void> | undefined

  constructor(options: ApiServerOptions) {
    this.#o = options
    this.#log = options.logger ?? defaultLogger('api')
    this.#limits = {
      maxBodyBytes: options.maxBodyBytes ?? 65_536,
      maxReadBytes: 1024 * 1024,
      maxWebSocketQueueBytes: options.maxWebSocketQueueBytes ?? 1024 * 1024,
    }
    this.#hub = new EventsHub(this.#limits.maxWebSocketQueueBytes, this.#log)
  }

  get url(): string {
    return this.#url
  }

  get urlWithToken(): string {
    return `${this.#url}?token=${this.#token}`
  }

  get token(): string {
    return this.#token
  }

  get exposed(): boolean {
    return !isLoopback(this.#o.host ?? '127.0.0.1')
  }

  emit(event: ApiEvent): void {
    this.#hub.emit(event)
  }

  start(): Promise<void> {
    this.#starting ??= this.#bringUp().catch(async (err) => {
      await this.#app?.close().catch(() => {})
      this.#app = undefined
      this.#starting = undefined
      throw err
    })
    return this.#starting
  }

  async stop(): Promise<void> {
    if (this.#starting === undefined) return
    await this.#starting.catch(() => {})
    this.#stopping ??= (async () => {
      this.#shutdown.abort(new DOMException('the API server is stopping', 'AbortError'))
      this.#unsubscribe?.()
      this.#hub.closeAll()
      await this.#app?.close()
      this.#app = undefined
      this.#starting = undefined
      this.#stopping = undefined
      this.#shutdown = new AbortController()
    })()
    return this.#stopping
  }

  async [Symbol.asyncDispose](): Promise<void> {
    await this.stop()
  }

  async #bringUp(): Promise<void> {
    const { node } = this.#o
    const host = this.#o.host ?? '127.0.0.1'
    this.#token = await loadOrCreateApiToken(node.storage.apiToken)
    const app = Fastify({
      bodyLimit: this.#limits.maxBodyBytes,
      logger: false,
      // A URL fastify cannot route (bad percent-encoding) is answered in our error shape too.
      frameworkErrors: (err, _req, reply) => {
        this.#sendError(reply, err)
      },
    })
    this.#app = app
    await app.register(websocket, { options: { maxPayload: this.#limits.maxBodyBytes } })
    let guard: RequestGuard | undefined
    app.addHook('onRequest', async (req, reply) => {
      if (guard === undefined) throw new ApiError('BUSY', 'starting')
      const queryToken = (req.query as Record<string, unknown> | undefined)?.token
      const guarded = {
        method: req.method,
        headers: req.headers,
        queryToken: typeof queryToken === 'string' ? queryToken : undefined,
      }
      // The web UI's files load without a token (they hold none), so that a missing or wrong
      // token gets the UI's page saying what to do instead of a JSON error.
      const uiFile = this.#isWebUiFile(req.method, req.url)
      if (uiFile) guard.checkSite(guarded)
      const via = uiFile ? this.#uiTokenVia(guard, guarded) : guard.check(guarded)
      if (via === 'query') {
        reply.header(
          'set-cookie',
          `${TOKEN_COOKIE}=${this.#token}; HttpOnly; SameSite=Strict; Path=/`,
        )
      }
      reply.header('x-content-type-options', 'nosniff')
      reply.header('referrer-policy', 'no-referrer')
    })
    app.setErrorHandler((err, _req, reply) => this.#sendError(reply, err))
    app.setNotFoundHandler((_req, reply) =>
      this.#sendError(reply, new ApiError('NOT_FOUND', 'no such endpoint')),
    )
    app.post('/api/:type', async (req, reply) => {
      const type = (req.params as { type: string }).type
      if (!isServed(type)) throw new ApiError('NOT_FOUND', `no command ${type.slice(0, 32)}`)
      const body = req.body ?? {}
      if (typeof body !== 'object' || body === null || Array.isArray(body)) {
        throw new ApiError('BAD_REQUEST', 'the body must be a JSON object')
      }
      const command = decodeApiCommandJson({ ...body, type })
      if (command.type === 'ls') return this.#streamList(command, reply)
      return runCommand(command, this.#context())
    })
    app.get('/api/events', { websocket: true }, (socket) => {
      answerSocket(socket, this.#hub, () => this.#context(), this.#log)
    })
    app.get('/files/*', (req, reply) => serveFile(node, req, reply, this.#shutdown.signal))
    if (this.#o.webRoot !== undefined) {
      await app.register(fastifyStatic, { root: this.#o.webRoot, prefix: '/', index: 'index.html' })
    }
    await app.listen({ host, port: this.#o.port ?? 3030 })
    const address = app.server.address()
    const port = typeof address === 'object' && address !== null ? address.port : 0
    guard = new RequestGuard(this.#token, allowedHosts(host, port, this.#o.allowedHosts ?? []))
    const shown = host === '0.0.0.0' || host === '::' ? '127.0.0.1' : host
    this.#url = `http://${shown.includes(':') ? `[${shown}]` : shown}:${port}/`
    if (this.exposed) {
      this.#log.error(
        'WARNING: the control API listens on %s:%d, beyond this machine; only the token guards it',
        host,
        port,
      )
    }
    this.#unsubscribe = forwardNodeEvents(node, (event) => this.#hub.emit(event))
  }

  /** A UI file's `?token=` first load still sets the cookie; a missing or wrong one is no error. */
  #uiTokenVia(guard: RequestGuard, req: Parameters<RequestGuard['check']>[0]) {
    if (req.queryToken === undefined) return undefined
    try {
      return guard.check(req)
    } catch {
      return undefined
    }
  }

  #isWebUiFile(method: string, url: string): boolean {
    if (this.#o.webRoot === undefined || (method !== 'GET' && method !== 'HEAD')) return false
    return (
      !url.startsWith('/api/') && !url.startsWith('/files/') && url !== '/api' && url !== '/files'
    )
  }

  #context(): CommandContext {
    return {
      node: this.#o.node,
      apiUrl: this.#url,
      emit: (event) => this.#hub.emit(event),
      stop: () => {
        // After the answer has gone out.
        setTimeout(() => {
          if (this.#o.onStop) this.#o.onStop()
          else void this.stop().then(() => this.#o.node.stop())
        }, 50)
      },
      limits: this.#limits,
      signal: this.#shutdown.signal,
    }
  }

  /** `ls` as NDJSON: the first line is awaited before the status goes out (errors stay HTTP). */
  async #streamList(command: Extract<ApiCommand, { type: 'ls' }>, reply: FastifyReply) {
    const lines = listCommand(command, this.#context())
    const first = await lines.next()
    async function* ndjson() {
      if (!first.done) yield `${JSON.stringify(first.value)}\n`
      for await (const line of lines) yield `${JSON.stringify(line)}\n`
      yield `${JSON.stringify({ type: 'end' })}\n`
    }
    const { Readable } = await import('node:stream')
    reply.header('content-type', 'application/x-ndjson; charset=utf-8')
    return reply.send(Readable.from(ndjson()))
  }

  #sendError(reply: FastifyReply, err: unknown): FastifyReply {
    const e = fromFastify(err) ?? toApiError(err, this.#log)
    const body: ApiErrorBody = { error: { code: e.code, message: publicMessage(e) } }
    return reply.code(e.status).header('content-type', 'application/json').send(body)
  }
}

/** Fastify's own errors (body too large, bad JSON, wrong content type) carry a 4xx status. */
function fromFastify(err: unknown): ApiError | undefined {
  const status = (err as { statusCode?: unknown })?.statusCode
  if (
    typeof status !== 'number' ||
    status < 400 ||
    status >= 500 ||
    'code' in Object(err) === false
  )
    return undefined
  const code = String((err as { code: unknown }).code)
  if (!code.startsWith('FST_')) return undefined
  if (status === 413) return new ApiError('TOO_LARGE', 'the request body is too large')
  return new ApiError('BAD_REQUEST', (err as Error).message)
}
