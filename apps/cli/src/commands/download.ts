import type { ApiDownload } from '@harddrive-party/wire-protocol'
import { asCliError, type Connected, call, JSON_ARG, splitPeerPath } from '../api-connection'
import { integerOption, last } from '../args'
import { clientCommand, printJson } from '../client-command'
import { followDownload, openEventFeed } from '../download-follow'
import { doneLine, downloadLine, progressDisplay } from '../download-progress'
import { CliError } from '../errors'
import { complain, say } from '../output'

const PEER_TIMEOUT_S = 60

export const download = clientCommand({
  name: 'download',
  description:
    'Download a file or folder of a peer into the download directory and wait for it, with a progress bar on a terminal (one line per file done otherwise). Ctrl-C stops waiting; the download goes on in the running peer. Exit 0 when every file arrived.',
  args: {
    ...JSON_ARG,
    detach: {
      type: 'boolean',
      alias: 'd',
      description: 'Only queue it: print the request id and return (see hdp queue)',
    },
    'peer-timeout': {
      type: 'string',
      valueHint: 'seconds',
      description:
        'Stop waiting when the peer has been away this long (0: wait forever); the download stays queued',
      default: String(PEER_TIMEOUT_S),
    },
  },
  positionals: ['peer/path'],
  async run(args, conn) {
    const { peer, path } = splitPeerPath(args.positionals[0]!)
    if (path === '')
      throw new CliError('USAGE', 'download: name a file or folder as PEER/SHARE/PATH')
    const timeoutText = last(args, 'peer-timeout') ?? String(PEER_TIMEOUT_S)
    const peerTimeoutS = integerOption(timeoutText, 'peer-timeout', 0, 7 * 24 * 3600)
    await mustExist(conn, peer, path)
    const json = args.flags.json === true
    if (args.flags.detach) {
      const r = await call(conn, () => conn.api.call('download', { peer, path }))
      if (json) printJson(r)
      else say(downloadLine(r.request))
      return
    }
    // Listening before queueing: the first events of a small download come at once.
    const feed = openEventFeed(conn)
    const started = Date.now()
    let queued: { request: ApiDownload }
    try {
      queued = await call(conn, () => conn.api.call('download', { peer, path }))
    } catch (err) {
      feed.close()
      throw err
    }
    const id = queued.request.id
    const mode = json ? 'quiet' : process.stdout.isTTY ? 'bar' : 'lines'
    const display = progressDisplay(mode, `${queued.request.peerName}/${path}`)
    const onInterrupt = () => {
      display.stop()
      complain(
        `stopped waiting; download ${id} goes on in the running peer (hdp queue shows it, hdp cancel ${id} stops it)`,
      )
      process.exit(130)
    }
    // Before the line that says it started: whoever reads it may press Ctrl-C at once, and a
    // SIGINT that comes before the handler ends the process with no word about the download.
    process.once('SIGINT', onInterrupt)
    if (!json) say(`downloading ${queued.request.peerName}/${path} (id ${id})`)
    try {
      const done = await followDownload(conn, feed, queued.request, {
        peerTimeoutMs: peerTimeoutS * 1000,
        display,
      })
      const elapsedMs = Date.now() - started
      if (json) printJson({ request: done, elapsedMs })
      else say(doneLine(done, elapsedMs))
    } finally {
      process.off('SIGINT', onInterrupt)
    }
  },
})

/**
 * An unknown peer or a path the peer does not have is said at once, before anything is queued.
 * A peer that is away (known, or named by its key) cannot be asked: the download is queued and
 * waits for it.
 */
async function mustExist(conn: Connected, peer: string, path: string): Promise<void> {
  try {
    for await (const item of conn.api.ls({ peer, path, limit: 1 })) {
      if (item.type === 'peer-error' && item.code === 'NOT_FOUND')
        throw new CliError('NOT_FOUND', `${item.name} has no ${path}`)
    }
  } catch (err) {
    const mapped = asCliError(err, conn.url)
    if (mapped instanceof CliError && mapped.code === 'UNAVAILABLE') return
    // A key (not a name) of a peer not seen now: queued for when it is seen.
    if (mapped instanceof CliError && mapped.code === 'NOT_FOUND' && /^[0-9a-f]{64}$/i.test(peer))
      return
    throw mapped
  }
}
