import { existsSync, statSync } from 'node:fs'
import { resolve } from 'node:path'
import { isHdpError, validateTopicName } from '@harddrive-party/wire-protocol'
import { defineCommand } from 'citty'
import { repeated } from './repeated'

export const start = defineCommand({
  meta: {
    name: 'start',
    description:
      'Start a peer: share directories and meet everyone on the same topics.\n' +
      'Example: hdp start --topic "our movie night" --share-dir ~/Videos --share-dir /srv/music',
  },
  args: {
    topic: {
      type: 'string',
      alias: 't',
      description: 'Topic to join: any text your friends also type (repeatable)',
    },
    'share-dir': { type: 'string', alias: 's', description: 'Directory to share (repeatable)' },
  },
  run({ rawArgs }) {
    let topics: string[]
    try {
      topics = repeated(rawArgs, 'topic', 't').map(validateTopicName)
    } catch (err) {
      console.error(`harddrive-party: bad topic: ${isHdpError(err) ? err.message : String(err)}`)
      process.exitCode = 2
      return
    }
    const dirs = repeated(rawArgs, 'share-dir', 's').map((d) => resolve(d))
    for (const dir of dirs) {
      if (!existsSync(dir) || !statSync(dir).isDirectory()) {
        console.error(`harddrive-party: not a directory: ${dir}`)
        process.exitCode = 2
        return
      }
    }
    console.log(`topics: ${topics.join(', ') || '(none)'}`)
    console.log(`sharing: ${dirs.join(', ') || '(nothing)'}`)
    // The packages a peer is made of exist; peer-node, which composes them, is the next step.
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
