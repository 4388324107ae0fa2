import { writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import type { NatRouter } from './nat-lab'
import type { LabProcess } from './process'
import { hasCommand } from './run'

/** nftables table miniupnpd writes its rules into, inside the router's namespace only. */
const TABLE = 'miniupnpd'

export interface Miniupnpd {
  /** The router it runs in. */
  router: NatRouter
  process: LabProcess
  /** UDP/TCP port redirections miniupnpd holds now, as `proto externalPort -> host:port` lines. */
  redirects(): Promise<string[]>
  stop(): Promise<void>
}

export interface MiniupnpdOptions {
  /** STUN server miniupnpd asks for its public address (the lab's public net is TEST-NET-2, which it calls reserved). */
  stun: { host: string; port: number; otherHost?: string }
  dir: string
}

/** Whether Debian's miniupnpd (nftables backend) and nft are installed. */
export function hasMiniupnpd(): boolean {
  return hasCommand('miniupnpd') && hasCommand('nft')
}

/**
 * Starts a real miniupnpd (UPnP IGD + NAT-PMP) in a lab router's namespace: it listens on the
 * router's LAN only, maps only to hosts on that LAN, and writes its DNAT and filter rules into
 * its own nftables table in that namespace. The lab's "public" network uses 198.51.100.0/24,
 * which miniupnpd refuses as an external address, so it learns its address from the lab's STUN
 * server (`ext_perform_stun`), which also proves the router's wan is not behind another NAT.
 */
export async function startMiniupnpd(
  router: NatRouter,
  options: MiniupnpdOptions,
): Promise<Miniupnpd> {
  const { ns } = router
  // The chains miniupnpd fills must exist before the base chains that jump to them.
  const ruleset = [
    `table inet ${TABLE} {`,
    '  chain miniupnpd { }',
    '  chain prerouting_miniupnpd { }',
    '  chain postrouting_miniupnpd { }',
    '  chain forward { type filter hook forward priority -10; policy accept; jump miniupnpd; }',
    '  chain prerouting { type nat hook prerouting priority -100; policy accept; jump prerouting_miniupnpd; }',
    '  chain postrouting { type nat hook postrouting priority 90; policy accept; jump postrouting_miniupnpd; }',
    '}',
  ].join('\n')
  // A port forward is exactly what a home router lets through: NEW inbound stays dropped unless
  // miniupnpd's DNAT sent it. The router's own wan is public, so the STUN server's answers from
  // its other address and port (miniupnpd's full-cone check) reach it.
  const drop = ['-i', 'wan', '-m', 'conntrack', '--ctstate', 'NEW', '-j', 'DROP']
  await ns.exec('iptables', ['-D', 'FORWARD', ...drop])
  await ns.exec('iptables', [
    '-A',
    'FORWARD',
    '-i',
    'wan',
    '-m',
    'conntrack',
    '--ctstate',
    'NEW',
    '-m',
    'conntrack',
    '!',
    '--ctstate',
    'DNAT',
    '-j',
    'DROP',
  ])
  await ns.exec('iptables', [
    '-I',
    'INPUT',
    '-i',
    'wan',
    '-p',
    'udp',
    '-s',
    options.stun.host,
    '-j',
    'ACCEPT',
  ])
  if (options.stun.otherHost !== undefined)
    await ns.exec('iptables', [
      '-I',
      'INPUT',
      '-i',
      'wan',
      '-p',
      'udp',
      '-s',
      options.stun.otherHost,
      '-j',
      'ACCEPT',
    ])
  const rulesFile = join(options.dir, `miniupnpd-${router.name}.nft`)
  await writeFile(rulesFile, `${ruleset}\n`)
  await ns.exec('nft', ['-f', rulesFile])
  const conf = join(options.dir, `miniupnpd-${router.name}.conf`)
  await writeFile(
    conf,
    [
      'ext_ifname=wan',
      'listening_ip=lan',
      'http_port=0',
      'enable_natpmp=yes',
      'enable_upnp=yes',
      'ext_perform_stun=yes',
      `ext_stun_host=${options.stun.host}`,
      `ext_stun_port=${options.stun.port}`,
      'secure_mode=yes',
      'system_uptime=no',
      `lease_file=${join(options.dir, `miniupnpd-${router.name}.leases`)}`,
      `upnp_table_name=${TABLE}`,
      `upnp_nat_table_name=${TABLE}`,
      'upnp_forward_chain=miniupnpd',
      'upnp_nat_chain=prerouting_miniupnpd',
      'upnp_nat_postrouting_chain=postrouting_miniupnpd',
      'min_lifetime=5',
      'max_lifetime=3600',
      'uuid=3f1b4a2e-6c1d-4d2e-9a7b-5e0c8d9f1a21',
      `allow 1024-65535 ${router.subnet}.0/24 1024-65535`,
      'deny 0-65535 0.0.0.0/0 0-65535',
      '',
    ].join('\n'),
  )
  const pidFile = join(options.dir, `miniupnpd-${router.name}.pid`)
  const process = ns.spawn('miniupnpd', ['-f', conf, '-P', pidFile, '-d', '-4'])
  const redirects = async () => {
    const out = await ns.exec('nft', ['list', 'chain', 'inet', TABLE, 'prerouting_miniupnpd'])
    return out
      .split('\n')
      .map((l) => l.trim())
      .filter((l) => l.includes('dnat'))
  }
  return {
    router,
    process,
    redirects,
    async stop() {
      await process.stop(2000)
      await ns.exec('nft', ['delete', 'table', 'inet', TABLE]).catch(() => {})
    },
  }
}
