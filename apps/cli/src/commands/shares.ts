import { resolve } from 'node:path'
import { call, JSON_ARG } from '../api-connection'
import { clientCommand, printJson } from '../client-command'
import { CliError } from '../errors'
import { formatBytes, plural, say } from '../output'

const list = clientCommand({
  name: 'shares',
  description: 'What the running peer shares. Subcommands: shares add DIR, shares remove NAME',
  args: JSON_ARG,
  async run(args, conn) {
    const r = await call(conn, () => conn.api.call('shares'))
    if (args.flags.json) return printJson(r)
    for (const s of r.shares)
      say(`${s.name}: ${s.root} ${plural(s.files, 'file')}, ${formatBytes(s.bytes)}`)
    say(`total: ${plural(r.files, 'file')}, ${formatBytes(r.bytes)}`)
  },
})

export const add = clientCommand({
  name: 'add',
  description: 'Share a directory (remembered; scanned in the background)',
  args: JSON_ARG,
  positionals: ['dir'],
  async run(args, conn) {
    const r = await call(conn, () =>
      conn.api.call('add-share', { dir: resolve(args.positionals[0]!) }),
    )
    if (args.flags.json) printJson(r)
    else say(`sharing ${r.share.name}: ${r.share.root} (scanning)`)
  },
})

export const remove = clientCommand({
  name: 'remove',
  description: 'Stop sharing a share, by its name (see hdp shares)',
  args: JSON_ARG,
  positionals: ['name'],
  async run(args, conn) {
    const name = args.positionals[0]!
    const r = await call(conn, () => conn.api.call('remove-share', { name }))
    if (!r.removed) throw new CliError('NOT_FOUND', `no share named ${JSON.stringify(name)}`)
    if (args.flags.json) printJson(r)
    else say(`removed ${name}`)
  },
})

export const shares = { ...list, subCommands: { add, remove } }
