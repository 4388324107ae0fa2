import { existsSync, mkdirSync, statSync } from 'node:fs'
import { homedir, networkInterfaces } from 'node:os'
import { join, resolve } from 'node:path'
import type { PeerNodeOptions } from '@harddrive-party/peer-node'
import { validateTopicName } from '@harddrive-party/wire-protocol'
import { hostPortOption, integerOption, last, type ParsedArgs, rateOption } from './args'
import { CliError, plainMessage } from './errors'

/** Where the public broker is when neither `--mqtt-server` nor `--embedded-broker` is given. */
export const PUBLIC_BROKER_URL = 'mqtt://broker.hivemq.com:1883'

/** What `start` runs with, checked before anything is opened. */
export interface StartConfig {
  topics: string[]
  shareDirs: string[]
  /** Share directories that did not exist and were created (said once at start). */
  createdDirs: string[]
  downloadDir: string
  uiAddr: { host: string; port: number }
  /** What the broker line says: `embedded`, a URL, or `off`. */
  broker: string
  /** The mDNS interface, or why mDNS is off. */
  mdns: { interface: string } | { off: string }
  /** Why port mapping is off, when it is (it is on by default). */
  portMappingOff: string | undefined
  node: PeerNodeOptions
}

/** Turns `start`'s arguments into peer-node options; every bad value is a `USAGE` error. */
export function startConfig(args: ParsedArgs, env: NodeJS.ProcessEnv = process.env): StartConfig {
  const topics = (args.strings.topic ?? []).map((t) => {
    if (t.trim() === '') throw new CliError('USAGE', 'bad topic: a topic name cannot be blank')
    try {
      return validateTopicName(t)
    } catch (err) {
      throw new CliError('USAGE', `bad topic: ${plainMessage(err)}`)
    }
  })
  const shareDirs = (args.strings['share-dir'] ?? []).map((d) => resolve(d))
  const createdDirs: string[] = []
  for (const dir of shareDirs) {
    if (!existsSync(dir)) createdDirs.push(dir)
    else if (!statSync(dir).isDirectory()) {
      throw new CliError('USAGE', `--share-dir: not a directory: ${dir}`)
    }
  }
  const bind = last(args, 'bind')
  const node: PeerNodeOptions = { agent: 'harddrive-party-cli/0.1.0' }
  const storage = last(args, 'storage')
  if (storage !== undefined) node.storageDir = resolve(storage)
  node.downloadDir = resolve(
    last(args, 'download-dir') ?? join(env.HOME ?? homedir(), 'Downloads', 'harddrive-party'),
  )
  if (bind !== undefined) {
    if (!/^\d{1,3}(\.\d{1,3}){3}$/.test(bind))
      throw new CliError('USAGE', `--bind must be an IPv4 address, got '${bind}'`)
    node.host = bind
    // A peer bound to one address can only be reached there.
    if (bind !== '0.0.0.0') node.lanAddresses = [bind]
  }
  const port = last(args, 'port')
  if (port !== undefined) node.port = integerOption(port, 'port', 1, 65535)

  const stunServers = args.strings['stun-server'] ?? []
  for (const s of stunServers) hostPortOption(s, 'stun-server')
  if (args.flags.stun === false) node.stunServers = []
  else if (stunServers.length > 0) node.stunServers = stunServers

  const turnServers = args.strings['turn-server'] ?? []
  for (const t of turnServers) {
    // Checked fully by peer-node at start; here the shape, with the password never echoed.
    if (
      !/^turn:\/\/[^:@/\s]+:[^@\s]+@(\[[0-9a-fA-F:.]+\]|[A-Za-z0-9.-]+)(:\d{1,5})?(\?transport=udp)?$/.test(
        t,
      )
    ) {
      const shown = t.replace(/^([a-z]+:\/\/[^:@/]*:)[^@]*@/i, '$1***@')
      throw new CliError(
        'USAGE',
        `--turn-server must be turn://user:pass@host:port, got '${shown}'`,
      )
    }
  }
  if (turnServers.length > 0) node.turnServers = turnServers

  // On by default, as in Syncthing and most file-sharing clients: a hard NAT with a mapping is
  // reachable, so fewer pairs need a relay. A loopback peer has nothing for a router to forward.
  let portMappingOff: string | undefined
  if (args.flags['port-mapping'] === false) portMappingOff = 'off (--no-port-mapping)'
  else if (bind?.startsWith('127.')) portMappingOff = 'off (bound to loopback)'
  else node.portMapping = {}

  const mqttServer = last(args, 'mqtt-server')
  const embedded = last(args, 'embedded-broker')
  let broker = 'off'
  if (args.flags.mqtt === false) {
    node.mqtt = false
  } else if (embedded !== undefined) {
    const port = integerOption(embedded, 'embedded-broker', 1, 65535)
    node.mqtt = { embeddedBroker: { host: bind ?? '0.0.0.0', port } }
    broker = `embedded on ${bind ?? '0.0.0.0'}:${port}`
  } else {
    if (mqttServer !== undefined && !/^(mqtts?|wss?):\/\/[^/\s]+/.test(mqttServer)) {
      throw new CliError(
        'USAGE',
        `--mqtt-server must be an mqtt://, mqtts://, ws:// or wss:// URL, got '${mqttServer}'`,
      )
    }
    node.mqtt = { brokerUrl: mqttServer ?? PUBLIC_BROKER_URL }
    broker = mqttServer ?? PUBLIC_BROKER_URL
  }

  let mdns: StartConfig['mdns']
  const mdnsInterface = last(args, 'mdns-interface')
  if (args.flags.mdns === false) mdns = { off: 'off (--no-mdns)' }
  else if (mdnsInterface !== undefined) mdns = { interface: mdnsInterface }
  else if (bind !== undefined && bind !== '0.0.0.0') mdns = { interface: bind }
  else {
    const lan = lanAddress()
    mdns = lan ? { interface: lan } : { off: 'off (no LAN interface found)' }
  }
  if ('interface' in mdns) node.mdns = { interface: mdns.interface }

  const slots = last(args, 'upload-slots')
  const limit = last(args, 'upload-limit')
  const perPeer = last(args, 'upload-limit-per-peer')
  const serving: NonNullable<PeerNodeOptions['serving']> = {}
  if (slots !== undefined) {
    serving.uploadSlots = integerOption(slots, 'upload-slots', 1, 64)
    serving.maxActiveReadsPerPeer = Math.max(1, serving.uploadSlots - 1)
  }
  if (limit !== undefined) serving.uploadBytesPerSecond = rateOption(limit, 'upload-limit')
  if (perPeer !== undefined)
    serving.uploadBytesPerSecondPerPeer = rateOption(perPeer, 'upload-limit-per-peer')
  if (Object.keys(serving).length > 0) node.serving = serving
  const relayLimit = last(args, 'relay-limit')
  if (relayLimit !== undefined && args.flags.relay !== true)
    throw new CliError('USAGE', '--relay-limit needs --relay')
  if (args.flags.relay === true) {
    node.relay = { enabled: true }
    if (relayLimit !== undefined)
      node.relay.maxBytesPerSecond = rateOption(relayLimit, 'relay-limit')
  }

  const home = env.HOME ?? homedir()
  const uiAddr = hostPortOption(last(args, 'ui-addr') ?? '127.0.0.1:3030', 'ui-addr', 0)
  // Only now, with every option valid: a missing share directory is created (and said so), so
  // `hdp start --share-dir ~/Videos` on a fresh machine starts a peer instead of failing.
  for (const dir of createdDirs) mkdirSync(dir, { recursive: true })
  return {
    topics,
    shareDirs,
    createdDirs,
    downloadDir: resolve(last(args, 'download-dir') ?? join(home, 'Downloads', 'harddrive-party')),
    uiAddr,
    broker,
    mdns,
    portMappingOff,
    node,
  }
}

/** The first non-internal IPv4 address: the LAN interface mDNS speaks on by default. */
function lanAddress(): string | undefined {
  for (const list of Object.values(networkInterfaces())) {
    for (const a of list ?? []) if (a.family === 'IPv4' && !a.internal) return a.address
  }
  return undefined
}
