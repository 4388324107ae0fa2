import type { ApiDownload } from '@harddrive-party/wire-protocol'
import { call, JSON_ARG, splitPeerPath } from '../api-connection'
import { clientCommand, printJson } from '../client-command'
import { CliError } from '../errors'
import { formatBytes, say } from '../output'

function line(d: ApiDownload): string {
  const at = d.position === undefined ? '' : ` #${d.position}`
  const why = d.reason ? ` (${d.reason})` : ''
  return `${d.id} ${d.state}${at} ${d.peerName}/${d.path}: ${d.filesDone}/${d.files} files, ${formatBytes(d.bytesDone)} of ${formatBytes(d.size)}${why}`
}

// Not yet: waiting with a progress bar (every download is detached for now).
export const download = clientCommand({
  name: 'download',
  description:
    'Queue a file or folder of a peer for download; prints the request id. Example: hdp download BriefOtter/films/noir',
  args: JSON_ARG,
  positionals: ['peer/path'],
  async run(args, conn) {
    const { peer, path } = splitPeerPath(args.positionals[0]!)
    if (path === '')
      throw new CliError('USAGE', 'download: name a file or folder as PEER/SHARE/PATH')
    const r = await call(conn, () => conn.api.call('download', { peer, path }))
    if (args.flags.json) printJson(r)
    else say(line(r.request))
  },
})

export const queue = clientCommand({
  name: 'queue',
  description: 'Downloads: queued, active, paused, done, with positions',
  args: JSON_ARG,
  async run(args, conn) {
    const r = await call(conn, () => conn.api.call('queue', {}))
    if (args.flags.json) return printJson(r)
    if (r.requests.length === 0) say('no downloads')
    for (const d of r.requests) say(line(d))
  },
})

function byId(name: 'pause' | 'resume' | 'cancel', description: string) {
  return clientCommand({
    name,
    description,
    args: JSON_ARG,
    positionals: ['id'],
    async run(args, conn) {
      const requestId = args.positionals[0]!
      const r = await call(conn, () => conn.api.call(name, { requestId }))
      if (args.flags.json) printJson(r)
      else say(`${name}: ${requestId}`)
    },
  })
}

export const pause = byId('pause', 'Pause a download (see hdp queue for ids)')
export const resume = byId('resume', 'Resume a paused download')
export const cancel = byId('cancel', 'Cancel a download (its finished files stay)')
