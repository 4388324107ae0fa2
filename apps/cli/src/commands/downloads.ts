import { call, JSON_ARG } from '../api-connection'
import { clientCommand, printJson } from '../client-command'
import { downloadLine } from '../download-progress'
import { say } from '../output'

export const queue = clientCommand({
  name: 'queue',
  description: 'Downloads: queued, active, paused, done, with positions',
  args: JSON_ARG,
  async run(args, conn) {
    const r = await call(conn, () => conn.api.call('queue', {}))
    if (args.flags.json) return printJson(r)
    if (r.requests.length === 0) say('no downloads')
    for (const d of r.requests) say(downloadLine(d))
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
