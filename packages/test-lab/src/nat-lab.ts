import { Lab, type LabOptions, type Namespace } from './namespaces'
import { hasCommand } from './run'
import { type StunEndpoint, type StunServer, startStunServer } from './stun-server'

/** `easy`: endpoint-independent mapping (MASQUERADE). `hard`: endpoint-dependent (MASQUERADE --random-fully). */
export type NatKind = 'easy' | 'hard'

export interface NatRouter {
  name: string
  kind: NatKind
  ns: Namespace
  /** The router's address on the lab's public network: what peers behind it appear as. */
  publicAddress: string
  /** The router's address on its LAN (the hosts' gateway). */
  lanAddress: string
  /** LAN subnet prefix, e.g. `10.99.1`. */
  subnet: string
  /** IPv6 LAN prefix (`2001:db8:1:`) when the lab has IPv6. */
  subnet6?: string
}

export interface LabHost {
  name: string
  ns: Namespace
  /** The host's own address (private behind a NAT, public when open). */
  address: string
  /** The router it sits behind, or undefined for a host on the public network. */
  nat?: NatRouter
  /** Its global IPv6 address when the lab has IPv6. */
  address6?: string
}

export interface NatLabOptions extends LabOptions {
  /** NAT routers to build, by name. Default `{ A: 'easy', B: 'hard', C: 'easy' }`. */
  nats?: Record<string, NatKind>
  /** Start coturn on the public network (default true). */
  stun?: boolean
  /**
   * Also give the lab IPv6 from the documentation prefix 2001:db8::/32 (never routed outside):
   * the public net 2001:db8::/64, router i's LAN 2001:db8:i::/64 routed (not NATed, not
   * filtered) by the router, hosts 2001:db8:i::k. Default false.
   */
  ipv6?: boolean
}

/**
 * The NAT lab: a "public internet" namespace (bridge with 198.51.100.1 and 198.51.100.254, coturn
 * STUN on both, port 3478), NAT routers on 198.51.100.(10+i) each with its LAN 10.99.i.0/24, and
 * hosts behind routers (10.99.i.2, .3, ...) or directly on the public network (198.51.100.100+).
 * Each router drops unsolicited inbound (ctstate NEW on its wan, INPUT and FORWARD), like a
 * home router; without the INPUT rule an early inbound punch leaves a conntrack entry that
 * makes MASQUERADE pick another port (see shared/netns-nat.sh). Nothing touches the host's
 * own network.
 */
export class NatLab {
  readonly lab: Lab
  pub!: Namespace
  stun?: StunServer
  readonly routers = new Map<string, NatRouter>()
  readonly hosts = new Map<string, LabHost>()
  #publicHosts = 0
  #ipv6 = false

  private constructor(options: NatLabOptions) {
    this.lab = new Lab(options)
  }

  /** Builds the lab; on any failure it tears down what it made and rethrows. */
  static async create(options: NatLabOptions = {}): Promise<NatLab> {
    const lab = new NatLab(options)
    try {
      await lab.#build(options)
      return lab
    } catch (err) {
      await lab.destroy()
      throw err
    }
  }

  /** STUN endpoints: 198.51.100.1:3478 and 198.51.100.254:3478. */
  get stunServers(): StunEndpoint[] {
    return this.stun?.endpoints ?? []
  }

  async #build(options: NatLabOptions): Promise<void> {
    this.pub = await this.lab.addNamespace('pub')
    await this.pub.exec('ip', ['link', 'add', 'br0', 'type', 'bridge'])
    await this.pub.exec('ip', ['link', 'set', 'br0', 'up'])
    await this.pub.exec('ip', ['addr', 'add', '198.51.100.1/24', 'dev', 'br0'])
    await this.pub.exec('ip', ['addr', 'add', '198.51.100.254/24', 'dev', 'br0'])
    this.#ipv6 = options.ipv6 ?? false
    if (this.#ipv6)
      await this.pub.exec('ip', ['-6', 'addr', 'add', '2001:db8::1/64', 'dev', 'br0', 'nodad'])
    let i = 1
    const nats: Record<string, NatKind> = options.nats ?? { A: 'easy', B: 'hard', C: 'easy' }
    for (const [name, kind] of Object.entries(nats)) {
      await this.#addRouter(name, kind, i++)
    }
    if (this.#ipv6) await this.#routeIpv6()
    if (options.stun !== false) {
      this.stun = await startStunServer({
        ns: this.pub,
        addresses: ['198.51.100.1', '198.51.100.254'],
        port: 3478,
        dir: this.lab.dir,
      })
    }
  }

  async #addRouter(name: string, kind: NatKind, i: number): Promise<void> {
    if (i > 90) throw new Error('at most 90 routers')
    const ns = await this.lab.addNamespace(`nat${name}`)
    const subnet = `10.99.${i}`
    const publicAddress = `198.51.100.${10 + i}`
    await this.lab.link(ns, 'wan', `${publicAddress}/24`, this.pub, `p${i}`, undefined)
    await this.pub.exec('ip', ['link', 'set', `p${i}`, 'master', 'br0'])
    await ns.exec('ip', ['link', 'add', 'lan', 'type', 'bridge'])
    await ns.exec('ip', ['addr', 'add', `${subnet}.1/24`, 'dev', 'lan'])
    await ns.exec('ip', ['link', 'set', 'lan', 'up'])
    await ns.exec('sysctl', ['-qw', 'net.ipv4.ip_forward=1'])
    // Only the LAN is masqueraded: the router's own packets (miniupnpd's STUN) keep their port.
    const masquerade = [
      '-t',
      'nat',
      '-A',
      'POSTROUTING',
      '-s',
      `${subnet}.0/24`,
      '-o',
      'wan',
      '-j',
      'MASQUERADE',
    ]
    await ns.exec('iptables', kind === 'hard' ? [...masquerade, '--random-fully'] : masquerade)
    for (const chain of ['INPUT', 'FORWARD']) {
      await ns.exec('iptables', [
        '-A',
        chain,
        '-i',
        'wan',
        '-m',
        'conntrack',
        '--ctstate',
        'NEW',
        '-j',
        'DROP',
      ])
    }
    const router: NatRouter = { name, kind, ns, publicAddress, lanAddress: `${subnet}.1`, subnet }
    if (this.#ipv6) {
      router.subnet6 = `2001:db8:${i}:`
      await ns.exec('sysctl', ['-qw', 'net.ipv6.conf.all.forwarding=1'])
      await ns.exec('ip', ['-6', 'addr', 'add', `2001:db8::${10 + i}/64`, 'dev', 'wan', 'nodad'])
      await ns.exec('ip', ['-6', 'addr', 'add', `2001:db8:${i}::1/64`, 'dev', 'lan', 'nodad'])
    }
    this.routers.set(name, router)
  }

  /** Each router and the public namespace route every other router's IPv6 LAN via its wan. */
  async #routeIpv6(): Promise<void> {
    let i = 0
    for (const target of this.routers.values()) {
      i++
      const via = `2001:db8::${10 + i}`
      const prefix = `2001:db8:${i}::/64`
      await this.pub.exec('ip', ['-6', 'route', 'add', prefix, 'via', via])
      for (const other of this.routers.values()) {
        if (other !== target) await other.ns.exec('ip', ['-6', 'route', 'add', prefix, 'via', via])
      }
    }
  }

  router(name: string): NatRouter {
    const r = this.routers.get(name)
    if (!r) throw new Error(`no router ${name}`)
    return r
  }

  /** Adds a host behind router `behind`, or on the public network when `behind` is undefined. */
  async addHost(name: string, behind?: string): Promise<LabHost> {
    const ns = await this.lab.addNamespace(name)
    let host: LabHost
    if (behind === undefined) {
      const k = ++this.#publicHosts
      const address = `198.51.100.${100 + k}`
      await this.lab.link(ns, 'eth0', `${address}/24`, this.pub, `o${k}`, undefined)
      await this.pub.exec('ip', ['link', 'set', `o${k}`, 'master', 'br0'])
      host = { name, ns, address }
      if (this.#ipv6) {
        host.address6 = `2001:db8::${100 + k}`
        await ns.exec('ip', ['-6', 'addr', 'add', `${host.address6}/64`, 'dev', 'eth0', 'nodad'])
        await ns.exec('ip', ['-6', 'route', 'add', 'default', 'via', '2001:db8::1'])
      }
    } else {
      const nat = this.router(behind)
      const k = [...this.hosts.values()].filter((h) => h.nat === nat).length + 1
      const address = `${nat.subnet}.${k + 1}`
      await this.lab.link(ns, 'eth0', `${address}/24`, nat.ns, `h${k}`, undefined)
      await nat.ns.exec('ip', ['link', 'set', `h${k}`, 'master', 'lan'])
      await ns.exec('ip', ['route', 'add', 'default', 'via', nat.lanAddress])
      host = { name, ns, address, nat }
      if (nat.subnet6 !== undefined) {
        host.address6 = `${nat.subnet6}:${k + 1}`
        await ns.exec('ip', ['-6', 'addr', 'add', `${host.address6}/64`, 'dev', 'eth0', 'nodad'])
        await ns.exec('ip', ['-6', 'route', 'add', 'default', 'via', `${nat.subnet6}:1`])
      }
    }
    this.hosts.set(name, host)
    return host
  }

  /** UDP conntrack entries on a router now (needs the conntrack tool). */
  async conntrackEntries(router: string): Promise<number> {
    if (!hasCommand('conntrack'))
      throw new Error('conntrack is not installed (apt-get install conntrack)')
    const out = await this.router(router).ns.exec('sh', [
      '-c',
      'conntrack -L -p udp 2>/dev/null || true',
    ])
    return out.split('\n').filter((l) => l.trim() !== '').length
  }

  /** Empties a router's conntrack table (between benchmark runs). */
  async flushConntrack(router: string): Promise<void> {
    await this.router(router).ns.exec('sh', ['-c', 'conntrack -F 2>/dev/null || true'])
  }

  async destroy(): Promise<void> {
    await this.stun?.stop().catch(() => {})
    await this.lab.destroy()
  }

  async [Symbol.asyncDispose](): Promise<void> {
    await this.destroy()
  }
}
