import { existsSync, statSync } from 'node:fs'
import { resolve } from 'node:path'
import { validateTopicName } from '@harddrive-party/wire-protocol'
import { defineCommand } from 'citty'

function list(value: unknown): string[] {
  if (value === undefined) return []
  return (Array.isArray(value) ? value : [value]).map(String)
}

export const start = defineCommand({
  meta: { name: 'start', description: 'Start a peer: share directories and meet peers on topics' },
  args: {
    topic: { type: 'string', alias: 't', description: 'Topic to join (any text; repeatable)' },
    'share-dir': { type: 'string', alias: 's', description: 'Directory to share (repeatable)' },
  },
  run({ args }) {
    const topics = list(args.topic).map(validateTopicName)
    const dirs = list(args['share-dir']).map((d) => resolve(d))
    for (const dir of dirs) {
      if (!existsSync(dir) || !statSync(dir).isDirectory()) {
        console.error(`harddrive-party: share directory not found: ${dir}`)
        process.exitCode = 2
        return
      }
    }
    console.log(`topics: ${topics.join(', ') || '(none)'}`)
    console.log(`sharing: ${dirs.join(', ') || '(nothing)'}`)
    console.log('peer-node is not built yet: this peer cannot connect to others until it lands.')
  },
})

export const main = defineCommand({
  meta: {
    name: 'harddrive-party',
    version: '0.1.0',
    description:
      'Peer-to-peer file sharing: pick a topic, share a directory, download from everyone on it',
  },
  subCommands: { start },
})
