import type { ApiDownload, ApiEvent } from '@harddrive-party/wire-protocol'
import { asCliError, type Connected } from './api-connection'
import type { DownloadView, ProgressDisplay } from './download-progress'
import { CliError } from './errors'
import { formatDuration } from './output'

/** How often the queue is read when no event says anything changed (events can be missed). */
const POLL_MS = 1000

export interface FollowOptions {
  /** Give up once the peer has been away this long (0: never); the download stays queued. */
  peerTimeoutMs: number
  display: ProgressDisplay
}

/**
 * The control API's events, opened before the download is queued so that none of its events is
 * missed; `ended` settles when the socket closes (the running peer stopped) or fails.
 */
export interface EventFeed {
  listen(fn: (event: ApiEvent) => void): void
  readonly ended: Promise<void>
  close(): void
}

export function openEventFeed(conn: Connected): EventFeed {
  const abort = new AbortController()
  let listener: ((event: ApiEvent) => void) | undefined
  const ended = (async () => {
    for await (const event of conn.api.events({ signal: abort.signal })) listener?.(event)
  })()
  // Nobody may be awaiting yet: an early failure must not be an unhandled rejection.
  ended.catch(() => undefined)
  return {
    listen(fn) {
      listener = fn
    },
    ended,
    close: () => abort.abort(),
  }
}

/**
 * Waits until the request is done, showing its progress: resolves with the finished request;
 * rejects with a `CliError` when it fails, has failed files, is cancelled, its peer stays away
 * longer than `peerTimeoutMs`, or the running peer stops. Progress comes from `transfer` events;
 * counters and states from `queue`, read after each event (one read at a time) and every second.
 */
export function followDownload(
  conn: Connected,
  feed: EventFeed,
  queued: ApiDownload,
  options: FollowOptions,
): Promise<ApiDownload> {
  const id = queued.id
  const view: DownloadView = { request: queued, bytesPerSecond: 0 }
  let peerConnected: boolean | undefined
  let awaySince: number | undefined
  let reading = false
  let readAgain = false
  let settled = false
  let timer: NodeJS.Timeout | undefined

  return new Promise<ApiDownload>((resolve, reject) => {
    // A refused connection while following means the running peer stopped, as a closed socket does.
    const failure = (err: unknown) => {
      const e = asCliError(err, conn.url)
      return e instanceof CliError && e.code === 'NO_PEER' ? lostPeer(id) : e
    }
    const finish = (err: unknown, request?: ApiDownload) => {
      if (settled) return
      settled = true
      clearInterval(timer)
      feed.close()
      options.display.stop()
      if (request !== undefined && err === undefined) resolve(request)
      else reject(err)
    }
    const show = () => {
      const r = view.request
      view.note =
        peerConnected === false
          ? `waiting for ${r.peerName} to connect`
          : r.state === 'paused'
            ? `paused (hdp resume ${id})`
            : r.state === 'queued' && r.position !== undefined && r.position > 1
              ? `queued #${r.position}`
              : undefined
      options.display.update(view)
    }
    const setPeer = (connected: boolean) => {
      peerConnected = connected
      awaySince = connected ? undefined : (awaySince ?? Date.now())
    }
    const check = () => {
      const r = view.request
      if (r.state === 'failed') {
        return finish(new CliError('FAILED', `download failed: ${r.reason ?? 'no reason given'}`))
      }
      if (r.state === 'done' && !r.expanding) {
        if (r.filesFailed > 0) {
          const why = r.reason ? ` (${r.reason})` : ''
          return finish(
            new CliError(
              'FAILED',
              `${r.filesFailed} of ${r.files} files failed${why}; hdp resume ${id} retries them`,
            ),
          )
        }
        return finish(undefined, r)
      }
      const away = awaySince === undefined ? 0 : Date.now() - awaySince
      if (options.peerTimeoutMs > 0 && away >= options.peerTimeoutMs) {
        finish(
          new CliError(
            'UNAVAILABLE',
            `${r.peerName} is not connected (waited ${formatDuration(away)}); download ${id} stays queued and continues when they are back (hdp queue)`,
          ),
        )
      }
    }
    const read = async () => {
      if (reading) {
        readAgain = true
        return
      }
      reading = true
      try {
        do {
          readAgain = false
          const { requests } = await conn.api.call('queue', {})
          if (settled) return
          const r = requests.find((q) => q.id === id)
          if (r === undefined) {
            return finish(new CliError('FAILED', `download ${id} was cancelled`))
          }
          view.request = r
          if (r.state !== 'active') view.bytesPerSecond = 0
          show()
          check()
        } while (readAgain && !settled)
      } catch (err) {
        finish(failure(err))
      } finally {
        reading = false
      }
    }
    feed.listen((event) => {
      if (settled) return
      if (event.type === 'peer' && event.key === view.request.peer) {
        setPeer(event.state === 'connected')
        show()
      } else if (
        event.type === 'transfer' &&
        event.direction === 'download' &&
        event.requestId === id
      ) {
        // Bytes and speed straight from the event; counters and state from the queue.
        view.request = { ...view.request, bytesDone: event.bytes, size: event.total }
        view.bytesPerSecond = event.bytesPerSecond
        show()
        void read()
      }
    })
    feed.ended.then(
      () => finish(lostPeer(id)),
      () => finish(lostPeer(id)),
    )
    timer = setInterval(() => void read(), POLL_MS)
    conn.api
      .call('peers')
      .then(({ peers }) => {
        if (peerConnected === undefined)
          setPeer(peers.some((p) => p.key === queued.peer && p.connected))
        return read()
      })
      .catch((err: unknown) => finish(failure(err)))
  })
}

function lostPeer(id: string): CliError {
  return new CliError(
    'NO_PEER',
    `the running peer stopped; download ${id} stays queued and continues when it starts again`,
  )
}
