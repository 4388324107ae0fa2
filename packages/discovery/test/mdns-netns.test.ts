import { fileURLToPath } from 'node:url'
import { Lab, type LabProcess, netnsSupport, skipReason } from '@harddrive-party/test-lab'
import { describe, expect, it } from 'vitest'

// Real LAN behaviour: two network namespaces joined by a veth pair, one mDNS peer process per
// address, on the standard port 5353 (nothing leaves the namespaces). No multicast route is
// added: the interface option alone must be enough.
const fixture = fileURLToPath(new URL('./fixtures/mdns-peer.ts', import.meta.url))
const support = netnsSupport()
if (!support.ok) console.warn(`mDNS netns tests skipped: ${skipReason(support)}`)

const keyOf = async (p: LabProcess) =>
  (await p.waitForLine(/^ready [0-9a-f]{64}$/, { timeoutMs: 20_000 })).slice('ready '.length)

async function withLab(run: (lab: Lab) => Promise<void>): Promise<void> {
  const lab = new Lab()
  try {
    await run(lab)
  } finally {
    await lab.destroy()
  }
}

async function veth(lab: Lab) {
  const x = await lab.addNamespace('x')
  const y = await lab.addNamespace('y')
  await lab.link(x, 'v0', '10.99.50.1/24', y, 'v0', '10.99.50.2/24')
  return { x, y }
}

describe.skipIf(!support.ok)('mDNS between network namespaces', () => {
  it('peers on a veth pair find each other, including ones that join later', async () => {
    await withLab(async (lab) => {
      const { x, y } = await veth(lab)
      const topic = `lan ${Math.random()}`
      const px = x.spawnNode(fixture, ['10.99.50.1', '4001', '5353', topic])
      // py and pz start in other topics and join ours later, one after the other.
      const py = y.spawnNode(fixture, ['10.99.50.2', '4002', '5353', 'elsewhere'])
      const pz = y.spawnNode(fixture, ['10.99.50.2', '4003', '5353', 'elsewhere too'])
      const [kx, ky, kz] = await Promise.all([keyOf(px), keyOf(py), keyOf(pz)])
      py.send(`join ${topic}`)
      await px.waitForLine(`peer ${ky} 10.99.50.2:4002 ${topic}`, { timeoutMs: 10_000 })
      await py.waitForLine(`peer ${kx} 10.99.50.1:4001 ${topic}`, { timeoutMs: 10_000 })
      expect(pz.lines.filter((l) => l.startsWith('peer '))).toEqual([])
      pz.send(`join ${topic}`)
      await px.waitForLine(`peer ${kz} 10.99.50.2:4003 ${topic}`, { timeoutMs: 10_000 })
      await pz.waitForLine(`peer ${kx} 10.99.50.1:4001 ${topic}`, { timeoutMs: 10_000 })
      await pz.waitForLine(`peer ${ky} 10.99.50.2:4002 ${topic}`, { timeoutMs: 10_000 })
      // Leaving is re-announced: the others drop py from the topic.
      py.send(`leave ${topic}`)
      await px.waitForLine(`gone ${ky} left`, { timeoutMs: 10_000 })
      // A peer that stops says goodbye.
      await pz.stop()
      await px.waitForLine(`gone ${kz} goodbye`, { timeoutMs: 10_000 })
      expect(px.lines.filter((l) => l.startsWith(`peer ${ky}`))).toHaveLength(1)
    })
  })

  it('a socket bound to the unicast address hears no multicast; bound to 0.0.0.0 it does', async () => {
    await withLab(async (lab) => {
      const { x, y } = await veth(lab)
      const topic = `trap ${Math.random()}`
      const px = x.spawnNode(fixture, ['10.99.50.1', '4001', '5353', topic])
      // The trap: bound to its own unicast address, this peer can send but never receive.
      const trapped = y.spawnNode(fixture, ['10.99.50.2', '4002', '5353', topic, '10.99.50.2'])
      const healthy = y.spawnNode(fixture, ['10.99.50.2', '4003', '5353', topic])
      const [kx, kTrapped] = await Promise.all([keyOf(px), keyOf(trapped), keyOf(healthy)])
      await px.waitForLine(`peer ${kTrapped} 10.99.50.2:4002 ${topic}`, { timeoutMs: 10_000 })
      await healthy.waitForLine(`peer ${kx} 10.99.50.1:4001 ${topic}`, { timeoutMs: 10_000 })
      // By now px has answered queries several times over; the trapped peer heard none.
      await new Promise((r) => setTimeout(r, 1500))
      expect(trapped.lines.filter((l) => l.startsWith('peer '))).toEqual([])
    })
  })
})
