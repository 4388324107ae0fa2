import { realpathSync } from 'node:fs'
import { rm, writeFile } from 'node:fs/promises'
import type { ApiServer, PeerNode } from '@harddrive-party/peer-node'
import { isHdpError } from '@harddrive-party/wire-protocol'
import { type ArgsDef, defineCommand } from 'citty'
import { apiUrlFile } from '../api-address'
import { parseStrict } from '../args'
import { CliError, plainMessage } from '../errors'
import { colours, complain, plural, say, shortKey } from '../output'
import { PUBLIC_BROKER_URL, type StartConfig, startConfig } from '../start-options'
import { natLine, portMappingLine, reportEvents, scanShares } from '../start-report'
import { findWebRoot } from '../web-root'

const args = {
  topic: {
    type: 'string',
    alias: 't',
    valueHint: 'name',
    description: 'Topic to join: any text your friends also type (repeatable; remembered)',
  },
  'share-dir': {
    type: 'string',
    alias: 's',
    valueHint: 'dir',
    description: 'Directory to share, created if missing (repeatable; remembered)',
  },
  'download-dir': {
    type: 'string',
    valueHint: 'dir',
    description: 'Where downloads go',
    default: '~/Downloads/harddrive-party',
  },
  storage: {
    type: 'string',
    valueHint: 'dir',
    description: 'Storage directory: identity, index, topics, shares',
    default: '$XDG_DATA_HOME/harddrive-party or ~/.local/share/harddrive-party',
  },
  'mqtt-server': {
    type: 'string',
    valueHint: 'url',
    description: 'MQTT broker to meet peers through',
    default: PUBLIC_BROKER_URL,
  },
  mqtt: {
    type: 'boolean',
    default: true,
    description: 'Meet peers through an MQTT broker',
    negativeDescription: 'No MQTT broker: LAN peers only (mDNS)',
  },
  'embedded-broker': {
    type: 'string',
    valueHint: 'port',
    description:
      "Run the group's own MQTT broker in this peer on PORT (others use --mqtt-server mqtt://<this host>:PORT)",
  },
  mdns: {
    type: 'boolean',
    default: true,
    description: 'Find peers on the LAN by mDNS',
    negativeDescription: 'No mDNS',
  },
  'mdns-interface': {
    type: 'string',
    valueHint: 'ipv4',
    description: 'Address of the interface mDNS speaks on',
    default: 'the first LAN IPv4 address',
  },
  'stun-server': {
    type: 'string',
    valueHint: 'host:port',
    description: 'STUN server for NAT detection (repeatable)',
    default: 'a public list',
  },
  'turn-server': {
    type: 'string',
    valueHint: 'turn://user:pass@host:port',
    description:
      'TURN server (UDP) of your group (repeatable): relays to peers no punch reaches when we are behind a hard NAT',
    default: 'none',
  },
  stun: {
    type: 'boolean',
    default: true,
    description: 'Detect our NAT type with STUN',
    negativeDescription: 'No NAT detection (NAT unknown)',
  },
  'port-mapping': {
    type: 'boolean',
    default: true,
    description:
      'Ask the home router to forward our port (UPnP IGD, NAT-PMP), so peers behind hard NATs reach us directly; off when bound to loopback',
    negativeDescription: 'No port mapping: no UPnP (SSDP multicast) or NAT-PMP on the LAN',
  },
  'ui-addr': {
    type: 'string',
    valueHint: 'host:port',
    description: 'Address of the web UI and control API (port 0: any free one)',
    default: '127.0.0.1:3030',
  },
  bind: {
    type: 'string',
    valueHint: 'ipv4',
    description: 'Address the peer binds (and announces, unless 0.0.0.0)',
    default: '0.0.0.0',
  },
  port: {
    type: 'string',
    valueHint: 'port',
    description: 'UDP/TCP port',
    default: 'the one saved in the storage directory',
  },
  'upload-slots': {
    type: 'string',
    valueHint: 'n',
    description: 'Files sent at once, shared between peers',
    default: '3',
  },
  'upload-limit': {
    type: 'string',
    valueHint: 'rate',
    description: 'Upload limit in bytes/s (500k, 2M)',
    default: 'unlimited',
  },
  'upload-limit-per-peer': {
    type: 'string',
    valueHint: 'rate',
    description: 'Upload limit per peer in bytes/s',
    default: 'unlimited',
  },
  relay: {
    type: 'boolean',
    description:
      'Relay for group members that cannot reach each other (two hard NATs); they stay end-to-end encrypted, you forward ciphertext',
  },
  'relay-limit': {
    type: 'string',
    valueHint: 'rate',
    description: 'Bandwidth for relaying, all pairs together, in bytes/s (with --relay)',
    default: '1M',
  },
  verbose: {
    type: 'boolean',
    alias: 'V',
    description: 'Log details to stderr (same as HDP_LOG=debug)',
  },
} as const satisfies ArgsDef

export const start = defineCommand({
  meta: {
    name: 'start',
    description:
      'Run a peer in the foreground: share directories, meet everyone on the same topics. Topics and shares are remembered in the storage directory (a bare `start` brings them back). Ctrl-C stops it cleanly; twice forces.',
  },
  args,
  async run({ rawArgs }) {
    const parsed = parseStrict(rawArgs, args)
    if (parsed.positionals.length > 0) {
      throw new CliError(
        'USAGE',
        `start takes no arguments, got '${parsed.positionals[0]}' (did you mean --topic?)`,
      )
    }
    if (parsed.flags.verbose) {
      process.env.DEBUG = [process.env.DEBUG, 'hdp:*'].filter(Boolean).join(',')
    }
    const config = startConfig(parsed)
    // Loaded only now so that --verbose reaches `debug`, which reads DEBUG when it loads.
    await runPeer(config, await import('@harddrive-party/peer-node'))
  },
})

type PeerNodeModule = typeof import('@harddrive-party/peer-node')

async function runPeer(config: StartConfig, peerNode: PeerNodeModule): Promise<void> {
  const { createPeerNode } = peerNode
  const stopping = new AbortController()
  let interrupts = 0
  const onSignal = (signal: NodeJS.Signals) => {
    interrupts++
    if (interrupts > 1 && signal === 'SIGINT') {
      complain('forced to stop')
      process.exit(130)
    }
    if (interrupts === 1) say(`stopping (${signal}; Ctrl-C again forces)`)
    stopping.abort()
  }
  process.on('SIGINT', onSignal)
  process.on('SIGTERM', onSignal)

  for (const dir of config.createdDirs)
    say(`created ${dir} (it did not exist; put files there to share them)`)
  const stopped = () => {
    say('stopped')
    process.off('SIGINT', onSignal)
    process.off('SIGTERM', onSignal)
  }
  let node = createPeerNode(config.node)
  say(`starting: storage ${node.storage.dir}`)
  try {
    await startNode(node, config, stopping.signal)
  } catch (err) {
    // Ctrl-C while starting is a stop, not a failure: what started is undone by node.stop().
    if (stopping.signal.aborted) return stopAll(undefined, node).then(stopped)
    if (!(isHdpError(err) && err.code === 'MDNS_BIND_FAILED')) throw mapStartError(err, node)
    // mDNS is a convenience: a peer without it still meets others through the broker.
    say(`mDNS: ${colours.yellow('off')} (${plainMessage(err)})`)
    config.mdns = { off: 'off (could not bind)' }
    node = createPeerNode({ ...config.node, mdns: false })
    try {
      await startNode(node, config, stopping.signal)
    } catch (e) {
      if (stopping.signal.aborted) return stopAll(undefined, node).then(stopped)
      throw mapStartError(e, node)
    }
  }
  let api: ApiServer | undefined
  const live = () => !stopping.signal.aborted
  try {
    // The API first: client commands work while topics are joined and shares scanned.
    if (live()) api = await startApi(peerNode, node, config, () => stopping.abort())
    if (live()) await configure(node, config, stopping.signal)
    if (live()) {
      const connected = node.peers().filter((p) => p.connected).length
      say(`ready: ${plural(connected, 'peer')} connected; Ctrl-C stops`)
      await new Promise((r) => stopping.signal.addEventListener('abort', r, { once: true }))
    }
  } catch (err) {
    if (!stopping.signal.aborted) {
      await stopAll(api, node)
      throw err
    }
  }
  await stopAll(api, node)
  stopped()
}

async function startNode(node: PeerNode, config: StartConfig, signal: AbortSignal): Promise<void> {
  reportEvents(node)
  await node.start({ signal })
  say(
    `we are ${colours.bold(node.name)} (${shortKey(Buffer.from(node.publicKey).toString('hex'))}), port ${node.address().port}`,
  )
  say(natLine(node))
  say(portMappingLine(node, config))
  say(`broker: ${config.broker}${config.node.mqtt === false ? '' : ' (connecting)'}`)
  say(`mDNS: ${'interface' in config.mdns ? `on ${config.mdns.interface}` : config.mdns.off}`)
}

/** Joins the new topics and adds the new shares (both remembered), then scans every share. */
async function configure(node: PeerNode, config: StartConfig, signal: AbortSignal): Promise<void> {
  for (const topic of config.topics) await node.join(topic, { signal })
  const topics = node.topics()
  say(
    `topics: ${topics.length > 0 ? topics.map((t) => `"${t}"`).join(', ') : 'none yet (join one with --topic NAME)'}`,
  )
  const roots = new Set(node.store.shares.list().map((s) => s.root))
  for (const dir of config.shareDirs) {
    if (roots.has(realpathSync(dir)) || roots.has(dir)) continue
    try {
      await node.store.shares.add(dir, { signal })
    } catch (err) {
      throw isHdpError(err)
        ? new CliError('USAGE', `--share-dir ${dir}: ${plainMessage(err)}`)
        : err
    }
  }
  await scanShares(node, signal)
  say(`downloads go to ${config.downloadDir}`)
}

/** The control API (and web UI) on --ui-addr; its URL is saved for the client commands. */
async function startApi(
  peerNode: PeerNodeModule,
  node: PeerNode,
  config: StartConfig,
  onStop: () => void,
): Promise<ApiServer> {
  const webRoot = findWebRoot()
  const api = peerNode.createApiServer({
    node,
    ...config.uiAddr,
    onStop,
    ...(webRoot !== undefined && { webRoot }),
  })
  try {
    await api.start()
  } catch (err) {
    throw new CliError(
      'FAILED',
      `--ui-addr ${config.uiAddr.host}:${config.uiAddr.port}: ${plainMessage(err)}`,
    )
  }
  await writeFile(apiUrlFile(node.storage.dir), `${api.url}\n`, { mode: 0o600 })
  say(`web UI: ${api.urlWithToken}`)
  if (webRoot === undefined) {
    say(
      colours.yellow(
        "the web UI's files are not built here (apps/web-ui/dist, or HDP_WEB_ROOT): only the control API answers",
      ),
    )
  }
  if (api.exposed)
    say(colours.yellow('the control API listens beyond this machine; its token guards it'))
  return api
}

async function stopAll(api: ApiServer | undefined, node: PeerNode): Promise<void> {
  if (api) {
    await api.stop()
    await rm(apiUrlFile(node.storage.dir), { force: true })
  }
  await node.stop()
}

function mapStartError(err: unknown, node: PeerNode): unknown {
  if (isHdpError(err) && err.code === 'LOCKED') {
    return new CliError(
      'LOCKED',
      `a peer is already running with storage ${node.storage.dir} (stop it first, or use another --storage)`,
    )
  }
  if (isHdpError(err) && err.code === 'BROKER_LISTEN_FAILED')
    return new CliError('FAILED', `--embedded-broker: ${plainMessage(err)}`)
  return err
}
