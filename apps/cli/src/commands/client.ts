import { Writable } from 'node:stream'
import { pipeline } from 'node:stream/promises'
import type { ApiPeer, Entry } from '@harddrive-party/wire-protocol'
import { asCliError, call, JSON_ARG, splitPeerPath } from '../api-connection'
import { integerOption, last } from '../args'
import { clientCommand, printJson } from '../client-command'
import { CliError } from '../errors'
import { colours, formatBytes, formatDuration, plural, reachedVia, say, shortKey } from '../output'

export const info = clientCommand({
  name: 'info',
  description: 'Who the running peer is: name, key, NAT, addresses, versions',
  args: JSON_ARG,
  async run(args, conn) {
    const i = await call(conn, () => conn.api.call('info'))
    if (args.flags.json) return printJson(i)
    say(`${colours.bold(i.name)} ${i.key}`)
    say(`NAT: ${i.nat.nat} (${i.nat.reason})`)
    say(`transport: ${i.addresses.transport.host}:${i.addresses.transport.port}`)
    say(`control API: ${i.addresses.api}`)
    say(`storage: ${i.storageDir}`)
  },
})

export const join = clientCommand({
  name: 'join',
  description: 'Join a topic (remembered)',
  args: JSON_ARG,
  positionals: ['topic'],
  async run(args, conn) {
    const topic = args.positionals[0]!
    if (topic.trim() === '') throw new CliError('USAGE', 'bad topic: a topic name cannot be blank')
    const r = await call(conn, () => conn.api.call('join', { topic }))
    if (args.flags.json) printJson(r)
    else say(`joined "${topic}"; topics: ${r.topics.map((t) => `"${t}"`).join(', ')}`)
  },
})

export const leave = clientCommand({
  name: 'leave',
  description: 'Leave a topic',
  args: JSON_ARG,
  positionals: ['topic'],
  async run(args, conn) {
    const r = await call(conn, () => conn.api.call('leave', { topic: args.positionals[0]! }))
    if (args.flags.json) printJson(r)
    else say(`topics: ${r.topics.map((t) => `"${t}"`).join(', ') || 'none'}`)
  },
})

export const topics = clientCommand({
  name: 'topics',
  description: 'The topics the running peer is on',
  args: JSON_ARG,
  async run(args, conn) {
    const r = await call(conn, () => conn.api.call('topics'))
    if (args.flags.json) printJson(r)
    else for (const t of r.topics) say(t)
  },
})

function peerLine(p: ApiPeer): string {
  const who = `${p.name} (${shortKey(p.key)})`
  const c = p.connection
  if (c) {
    return `${colours.green('connected')} ${who} via ${reachedVia(p.attempt?.used, c.carrier)} ${c.remoteAddress.host}:${c.remoteAddress.port}, rtt ${Math.round(c.rttMs)} ms, sent ${formatBytes(c.bytesSent)}, received ${formatBytes(c.bytesReceived)}`
  }
  const failure = p.attempt?.failure ? `: ${p.attempt.failure}` : ''
  return `${colours.yellow('not connected')} ${who} (announced via ${p.announcedVia.join(', ') || 'nothing now'})${failure}`
}

export const peers = clientCommand({
  name: 'peers',
  description: 'Peers on our topics, connected or not, with how they were reached',
  args: JSON_ARG,
  async run(args, conn) {
    const r = await call(conn, () => conn.api.call('peers'))
    if (args.flags.json) return printJson(r)
    if (r.peers.length === 0) say('no peers yet')
    for (const p of r.peers) say(peerLine(p))
  },
})

export const doctor = clientCommand({
  name: 'doctor',
  description: 'Our NAT and, per peer, what was tried to connect and why it failed, in plain words',
  args: JSON_ARG,
  async run(args, conn) {
    const [i, r] = await call(conn, () =>
      Promise.all([conn.api.call('info'), conn.api.call('peers')]),
    )
    if (args.flags.json) return printJson({ info: i, peers: r.peers })
    say(`we are ${i.name} (${shortKey(i.key)}); NAT ${i.nat.nat}: ${i.nat.reason}`)
    for (const p of r.peers) {
      say(peerLine(p))
      const a = p.attempt
      if (a) {
        const took = a.elapsedMs === undefined ? '' : ` in ${formatDuration(a.elapsedMs)}`
        say(
          `  our NAT ${a.ourNat}, theirs ${a.theirNat}; found via ${a.via}; tried ${a.tried.join(', ') || 'nothing yet'}${a.used ? `, connected by ${a.used}${took}` : ''}`,
        )
        if (a.failures > 0)
          say(
            `  ${a.failures} of ${a.attempts} attempts failed${a.failure ? `; last: ${a.failure}` : ''}`,
          )
        if (a.nextAttemptAt)
          say(`  next attempt in ${formatDuration(Math.max(0, a.nextAttemptAt - Date.now()))}`)
        if (a.nextUpgradeAt)
          say(
            `  relayed; next look for a direct path in ${formatDuration(Math.max(0, a.nextUpgradeAt - Date.now()))}`,
          )
      }
    }
  },
})

const LIST_ARGS = {
  ...JSON_ARG,
  recursive: { type: 'boolean', alias: 'r', description: 'Everything below the directory' },
  limit: { type: 'string', valueHint: 'n', description: 'Entries per peer', default: '1000' },
} as const

/** Lists or searches; people get one line per entry, scripts one JSON array. */
async function list(
  conn: Parameters<Parameters<typeof clientCommand>[0]['run']>[1],
  body: { peer?: string; path: string; recursive?: boolean; search?: string; limit: number },
  json: boolean,
): Promise<void> {
  const out: Array<Entry & { peer: string; name: string }> = []
  const errors: string[] = []
  try {
    for await (const item of conn.api.ls(body)) {
      if (item.type === 'peer-error') {
        errors.push(`${item.name}: ${item.message}`)
        if (body.peer !== undefined)
          throw new CliError(
            item.code === 'NOT_FOUND' ? 'NOT_FOUND' : 'UNAVAILABLE',
            `${item.name}: ${item.message}`,
          )
        continue
      }
      for (const e of item.entries) {
        if (json) out.push({ ...e, peer: item.peer, name: item.name })
        else {
          const size = formatBytes(e.size).padStart(9)
          const files =
            e.dir && e.files !== undefined ? colours.dim(` (${plural(e.files, 'file')})`) : ''
          say(`${e.dir ? 'd' : '-'} ${size}  ${item.name}/${e.path}${e.dir ? '/' : ''}${files}`)
        }
      }
    }
  } catch (err) {
    throw asCliError(err, conn.url)
  }
  if (json) printJson({ entries: out, errors })
  else for (const e of errors) process.stderr.write(`harddrive-party: ${e}\n`)
}

export const ls = clientCommand({
  name: 'ls',
  description:
    "List a peer's shares or a directory in them (every connected peer's shares without an argument)",
  args: LIST_ARGS,
  positionals: ['peer/path?'],
  async run(args, conn) {
    const limit = integerOption(last(args, 'limit') ?? '1000', 'limit', 1, 10_000)
    const target = args.positionals[0]
    const where = target === undefined ? { path: '' } : splitPeerPath(target)
    await list(
      conn,
      { ...where, limit, ...(args.flags.recursive ? { recursive: true } : {}) },
      args.flags.json === true,
    )
  },
})

export const search = clientCommand({
  name: 'search',
  description: "Search the names in every connected peer's shares (--peer for one)",
  args: {
    ...LIST_ARGS,
    peer: {
      type: 'string',
      valueHint: 'peer',
      description: 'Search only this peer (name or key)',
      default: 'every connected peer',
    },
  },
  positionals: ['term'],
  async run(args, conn) {
    const limit = integerOption(last(args, 'limit') ?? '1000', 'limit', 1, 10_000)
    const peer = last(args, 'peer')
    await list(
      conn,
      { path: '', search: args.positionals[0]!, limit, ...(peer ? { peer } : {}) },
      args.flags.json === true,
    )
  },
})

export const read = clientCommand({
  name: 'read',
  description: "Write a peer's file (or a byte range of it) to stdout, byte for byte",
  args: {
    start: { type: 'string', valueHint: 'n', description: 'First byte', default: '0' },
    end: {
      type: 'string',
      valueHint: 'n',
      description: 'Byte after the last one (exclusive)',
      default: 'the end of the file',
    },
  },
  positionals: ['peer/path'],
  async run(args, conn) {
    const { peer, path } = splitPeerPath(args.positionals[0]!)
    if (path === '') throw new CliError('USAGE', 'read: name a file as PEER/SHARE/PATH')
    const start = integerOption(last(args, 'start') ?? '0', 'start', 0, Number.MAX_SAFE_INTEGER)
    const endText = last(args, 'end')
    const end =
      endText === undefined ? undefined : integerOption(endText, 'end', 1, Number.MAX_SAFE_INTEGER)
    if (end !== undefined && end <= start)
      throw new CliError('USAGE', '--end must be greater than --start')
    if (end === start) return
    const url = conn.api.fileUrl(`peer/${peer}/${path}`)
    const headers: Record<string, string> = { authorization: `Bearer ${conn.token}` }
    if (start > 0 || end !== undefined)
      headers.range = `bytes=${start}-${end === undefined ? '' : end - 1}`
    const res = await call(conn, () => fetch(url, { headers }))
    if (!res.ok) {
      const body = (await res.json().catch(() => ({}))) as {
        error?: { code?: string; message?: string }
      }
      const err = Object.assign(new Error(body.error?.message ?? `HTTP ${res.status}`), {
        name: 'ApiError',
        code: body.error?.code ?? 'INTERNAL',
      })
      throw asCliError(err, conn.url)
    }
    if (res.body === null) return
    await pipeline(res.body as unknown as AsyncIterable<Uint8Array>, stdoutSink())
  },
})

/** stdout as a sink that respects backpressure and ends without closing the real stdout. */
function stdoutSink(): Writable {
  return new Writable({
    write(chunk, _enc, done) {
      if (process.stdout.write(chunk)) done()
      else process.stdout.once('drain', done)
    },
  })
}

export const stop = clientCommand({
  name: 'stop',
  description: 'Stop the running peer (as Ctrl-C in its terminal would)',
  args: {},
  async run(_args, conn) {
    await call(conn, () => conn.api.call('stop'))
    say('stopping')
  },
})
