import { join } from 'node:path'
import { type LabHost, NatLab, netnsSupport, skipReason } from '@harddrive-party/test-lab'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'

const support = netnsSupport()
if (!support.ok) console.warn(`test-lab: ${skipReason(support)}`)
const fixture = join(import.meta.dirname, 'fixtures/udp-echo.ts')

describe.skipIf(!support.ok)('NatLab', () => {
  let lab: NatLab
  let a: LabHost
  let b: LabHost
  let open: LabHost
  beforeAll(async () => {
    lab = await NatLab.create({ nats: { A: 'easy', B: 'hard' } })
    a = await lab.addHost('a', 'A')
    b = await lab.addHost('b', 'B')
    open = await lab.addHost('o')
  }, 60_000)
  afterAll(async () => {
    const netns = lab?.lab.namespaces.map((n) => n.netns) ?? []
    await lab?.destroy()
    const { run } = await import('@harddrive-party/test-lab')
    const left = await run('ip', ['netns', 'list'])
    for (const n of netns) expect(left).not.toContain(n)
  })

  it('an easy NAT keeps one public port for two STUN addresses; a hard NAT does not', async () => {
    // Asks coturn at both public addresses from one local port; prints the mapped ports.
    const probe = async (host: LabHost): Promise<number[]> => {
      const out = await host.ns.exec(process.execPath, [
        '-e',
        `const s=require('dgram').createSocket('udp4');const ports=[];
         s.on('message',(m)=>{let o=20;while(o+4<=m.length){const t=m.readUInt16BE(o),l=m.readUInt16BE(o+2);
           if(t===0x20)ports.push(m.readUInt16BE(o+6)^0x2112);o+=4+Math.ceil(l/4)*4}
           if(ports.length===2){console.log(JSON.stringify(ports));process.exit(0)}});
         s.bind(40000,'0.0.0.0',()=>{for(const h of ['198.51.100.1','198.51.100.254']){
           const t=Buffer.concat([Buffer.from([0,1,0,0,0x21,0x12,0xa4,0x42]),require('crypto').randomBytes(12)]);s.send(t,3478,h)}});
         setTimeout(()=>{console.log(JSON.stringify(ports));process.exit(1)},3000)`,
      ])
      return JSON.parse(out) as number[]
    }
    const [a1, a2] = await probe(a)
    expect(a1).toBe(a2)
    const [b1, b2] = await probe(b)
    expect(b1).toBeTypeOf('number')
    expect(b1).not.toBe(b2)
  })

  it('hosts reach the public side through their NAT and appear as its public address', async () => {
    const server = open.ns.spawnNode(fixture, ['5000'])
    await server.waitForLine(/^ready/)
    const client = a.ns.spawnNode(fixture, ['0', open.address, '5000'])
    await client.waitForLine(/^ready/)
    const line = await client.waitForLine(/^got /)
    expect(line).toContain(`got ${lab.router('A').publicAddress}:`)
    expect(line).toContain(`from ${open.address}:5000`)
  })

  it('a NAT drops unsolicited inbound and hides private addresses', async () => {
    const server = a.ns.spawnNode(fixture, ['6000'])
    await server.waitForLine(/^ready/)
    const out = await open.ns.exec(process.execPath, [
      '-e',
      `const s=require('dgram').createSocket('udp4');s.on('message',()=>{console.log('reply');process.exit(0)});
       s.send('who',6000,'${lab.router('A').publicAddress}');s.send('who',6000,'${a.address}',()=>{});
       setTimeout(()=>{console.log('none');process.exit(0)},700)`,
    ])
    expect(out.trim()).toBe('none')
    expect(server.lines.filter((l) => l.startsWith('got'))).toEqual([])
  })

  it('counts conntrack entries on a router', async () => {
    expect(await lab.conntrackEntries('A')).toBeGreaterThan(0)
    await lab.flushConntrack('A')
    expect(await lab.conntrackEntries('A')).toBe(0)
  })
})
