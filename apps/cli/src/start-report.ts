import type { PeerNode } from '@harddrive-party/peer-node'
import { SingleBar } from 'cli-progress'
import { colours, formatBytes, formatDuration, plural, reachedVia, say, shortKey } from './output'
import type { StartConfig } from './start-options'

/** Prints one line per peer that connects or leaves, and each broker or mDNS status change. */
export function reportEvents(node: PeerNode): void {
  node.addEventListener('peer:connect', ({ detail }) => {
    const info = node.peers().find((p) => p.hex === detail.peer.hex)
    const c = info?.connection
    const how = c
      ? ` via ${reachedVia(info?.attempt?.used, c.carrier)} ${c.remoteAddress.host}:${c.remoteAddress.port} on "${c.topic}"`
      : ''
    const verb = detail.replaced ? 'reconnected' : 'connected'
    say(`${colours.green('+')} ${detail.peer.name} (${shortKey(detail.peer.hex)}) ${verb}${how}`)
  })
  node.addEventListener('peer:disconnect', ({ detail }) => {
    const why = detail.reason ? ` (${detail.reason.message})` : ''
    say(`${colours.red('-')} ${detail.peer.name} (${shortKey(detail.peer.hex)}) left${why}`)
  })
  // Start waits for the router only briefly: a mapping made later (or after a router reboot) is
  // said when the node announces it.
  let mapped = ''
  node.addEventListener('nat', () => {
    const m = node.portMapping
    const now = m ? `${m.externalHost}:${m.externalPort}` : ''
    if (now !== '' && now !== mapped) say(portMappingLine(node, { portMappingOff: undefined }))
    mapped = now
  })
  node.addEventListener('discovery:status', ({ detail }) => {
    // Discovery reports each change once (never per retry), so an unreachable broker is said
    // once, with the fact that it keeps retrying.
    const what = detail.via === 'mqtt' ? 'broker' : 'mDNS'
    const line = `${what}: ${detail.state === 'online' ? colours.green('online') : colours.yellow('offline')} (${detail.message})`
    say(line)
  })
}

/** Scans every share again, with a progress bar on a terminal; one summary line per share. */
export async function scanShares(node: PeerNode, signal: AbortSignal): Promise<void> {
  const before = new Map(node.store.shares.list().map((s) => [s.name, s.files]))
  if (before.size === 0) {
    say('sharing: nothing yet (add a directory with --share-dir DIR)')
    return
  }
  const tty = process.stdout.isTTY === true
  let bar: SingleBar | undefined
  let barShare = ''
  const summary = await node.store.rescan({
    signal,
    onProgress: (e) => {
      if (!tty) return
      if (bar === undefined || barShare !== e.share) {
        bar?.stop()
        barShare = e.share
        const known = before.get(e.share) ?? 0
        // A first scan has no total to measure against: it counts instead of filling a bar.
        const format =
          known > 0
            ? `scanning ${e.share} [{bar}] {value}/{total} files, {size}`
            : `scanning ${e.share}: {value} files, {size}`
        bar = new SingleBar({
          format,
          hideCursor: true,
          clearOnComplete: true,
          stream: process.stdout,
        })
        bar.start(Math.max(known, 1), 0, { size: formatBytes(0) })
      }
      bar.setTotal(Math.max(bar.getTotal(), e.files))
      bar.update(e.files, { size: formatBytes(e.bytes) })
      if (e.done) {
        bar.stop()
        bar = undefined
      }
    },
  })
  bar?.stop()
  for (const s of summary.shares) {
    const share = node.store.shares.get(s.share)
    const where = share ? ` ${colours.dim(share.root)}` : ''
    const error = s.error ? ` ${colours.red(`(could not read: ${s.error})`)}` : ''
    say(`sharing ${s.share}:${where} ${plural(s.files, 'file')}, ${formatBytes(s.bytes)}${error}`)
  }
  say(
    `shared in total: ${plural(summary.files, 'file')}, ${formatBytes(summary.bytes)}, scanned in ${formatDuration(summary.durationMs)}`,
  )
}

/** Our NAT as one line: the type, the public address when known, and why. */
export function natLine(node: PeerNode): string {
  const r = node.nat
  const at = r.publicAddress ? ` at ${r.publicAddress.host}:${r.publicAddress.port}` : ''
  const turn = node.turn
  const relayed = turn
    ? `; TURN relay at ${turn.relayed.host}:${turn.relayed.port} (${turn.server})`
    : ''
  return `NAT: ${r.nat}${at} (${r.reason})${relayed}`
}

/** What the router forwards for us, or why nothing. */
export function portMappingLine(
  node: PeerNode,
  config: Pick<StartConfig, 'portMappingOff'>,
): string {
  if (config.portMappingOff !== undefined) return `port mapping: ${config.portMappingOff}`
  const m = node.portMapping
  if (m === undefined)
    return 'port mapping: none yet (no UPnP or NAT-PMP router has answered; said here when one does, asked again at each NAT check)'
  const protocol = m.protocol === 'upnp' ? 'UPnP' : 'NAT-PMP'
  return `port mapping: ${colours.green(`${m.externalHost}:${m.externalPort}`)} by ${protocol} on ${m.gateway}`
}
