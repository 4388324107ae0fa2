import { createHash, randomBytes } from 'node:crypto'
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { type PeerInfo, peerName } from '@harddrive-party/peer-node'
import {
  hasCoturn,
  type LabHost,
  type LabProcess,
  NatLab,
  netnsSupport,
  type StunServer,
  skipReason,
  startStunServer,
} from '@harddrive-party/test-lab'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'

// Two peers behind hard (symmetric) NATs, which no punch connects, and a real coturn serving
// TURN on the lab's public network: the lower key dials the other's relayed address.

const support = netnsSupport()
const skip = !support.ok ? skipReason(support) : hasCoturn() ? '' : 'coturn is not installed'
if (skip) console.warn(`TURN lab: ${skip}`)
const fixture = join(import.meta.dirname, 'fixtures/turn-peer.ts')
const TURN = 'turn://hdp:lab%20pass@198.51.100.1:3480'
const ROUNDS = 20

describe.skipIf(!!skip)('hard <-> hard through coturn TURN', () => {
  let lab: NatLab
  let broker: LabProcess
  let turn: StunServer
  let dirs: string
  const hosts: Record<string, LabHost> = {}
  const running = new Set<LabProcess>()

  beforeAll(async () => {
    lab = await NatLab.create({ nats: { A: 'hard', B: 'hard' } })
    hosts.x = await lab.addHost('x', 'A')
    hosts.y = await lab.addHost('y', 'B')
    const conf = join(lab.lab.dir, 'mosquitto.conf')
    await writeFile(conf, 'listener 1883 198.51.100.1\nallow_anonymous true\npersistence false\n')
    broker = lab.pub.spawn('mosquitto', ['-c', conf])
    turn = await startStunServer({
      ns: lab.pub,
      addresses: ['198.51.100.1'],
      port: 3480,
      dir: lab.lab.dir,
      turn: { username: 'hdp', password: 'lab pass', realm: 'lab.example' },
    })
    dirs = await mkdtemp(join(tmpdir(), 'hdp-turn-lab-'))
  }, 60_000)

  afterAll(async () => {
    await Promise.allSettled([...running].map((p) => p.stop(3000)))
    await turn?.stop()
    await broker?.stop(1000)
    await lab?.destroy()
    if (dirs) await rm(dirs, { recursive: true, force: true })
  })

  function start(host: LabHost, name: string, extra: string[] = []): LabProcess {
    const stun = lab.stunServers.map((s) => `${s.host}:${s.port}`).join(',')
    const proc = host.ns.spawnNode(fixture, [
      ...['--dir', join(dirs, name), '--broker', 'mqtt://198.51.100.1:1883', '--topic', 'turn'],
      ...['--stun', stun, '--turn', TURN, ...extra],
    ])
    running.add(proc)
    return proc
  }

  async function ask(proc: LabProcess, command: string, answer: RegExp): Promise<string> {
    const from = proc.lines.length
    proc.send(command)
    const line = await proc.waitForLine(answer, { after: from, timeoutMs: 15_000 })
    return line.slice(line.indexOf(' ') + 1)
  }

  const peersOf = async (p: LabProcess) =>
    JSON.parse(await ask(p, 'peers', /^peers /)) as PeerInfo[]

  it(`connects, lists and downloads byte-exact, then reconnects ${ROUNDS}/${ROUNDS} times`, async () => {
    const share = join(dirs, 'share')
    await mkdir(share)
    const data = randomBytes(1024 * 1024)
    await writeFile(join(share, 'song.flac'), data)
    const px = start(hosts.x!, 'x', ['--share', share])
    const py = start(hosts.y!, 'y')
    const [, kx, , natX, relayedX] = (await px.waitForLine(/^ready /, { timeoutMs: 60_000 })).split(
      ' ',
    )
    const [, ky, , natY, relayedY] = (await py.waitForLine(/^ready /, { timeoutMs: 60_000 })).split(
      ' ',
    )
    expect([natX, natY]).toEqual(['hard', 'hard'])
    expect(relayedX).toMatch(/^198\.51\.100\.1:\d+$/)
    expect(relayedY).toMatch(/^198\.51\.100\.1:\d+$/)
    const readyAt = Date.now()
    await px.waitForLine(`connect ${ky}`, { timeoutMs: 60_000 })
    await py.waitForLine(`connect ${kx}`, { timeoutMs: 60_000 })
    const firstMs = Date.now() - readyAt

    // The dialer (lower key) dialled the acceptor's relayed address; the acceptor sees the
    // connection coming from its loopback stand-in for the peer.
    const [fromX] = await peersOf(px)
    const [fromY] = await peersOf(py)
    const dialer = fromX?.connection?.initiator ? fromX : fromY
    const acceptor = dialer === fromX ? fromY : fromX
    const acceptorRelayed = dialer === fromX ? relayedY : relayedX
    expect(dialer?.attempt?.used).toBe('turn')
    expect(dialer?.attempt?.tried).toEqual(['turn'])
    expect(acceptor?.attempt?.used).toBe('turn')
    const remote = dialer?.connection?.remoteAddress
    expect(`${remote?.host}:${remote?.port}`).toBe(acceptorRelayed)
    expect(acceptor?.connection?.remoteAddress.host).toBe('127.0.0.1')

    // Browse and download through the relay.
    const lsStart = Date.now()
    expect(JSON.parse(await ask(py, `ls ${kx} share`, /^ls /))).toEqual(['share/song.flac'])
    const lsMs = Date.now() - lsStart
    const id = await ask(py, `download ${kx} share/song.flac`, /^added /)
    await py.waitForLine(`done ${id}`, { timeoutMs: 60_000 })
    const local = join(
      dirs,
      'y',
      'downloads',
      peerName(Buffer.from(kx!, 'hex')),
      'share',
      'song.flac',
    )
    const sha = (b: Buffer) => createHash('sha256').update(b).digest('hex')
    expect(sha(await readFile(local))).toBe(sha(data))
    const acceptorProc = dialer === fromX ? py : px
    const stats = JSON.parse(await ask(acceptorProc, 'turn', /^turn /)) as {
      peers: number
      bytesIn: number
      bytesOut: number
    }
    expect(stats.peers).toBe(1)
    // x serves the file: whichever side holds the relay moved at least the file's bytes.
    expect(Math.max(stats.bytesIn, stats.bytesOut)).toBeGreaterThan(data.length)

    // Reconnects: both cut without a goodbye; each time the pair meets again through TURN.
    const times: number[] = []
    let ok = 0
    for (let round = 0; round < ROUNDS; round++) {
      const fx = px.lines.length
      const fy = py.lines.length
      const at = Date.now()
      px.send('cut')
      py.send('cut')
      try {
        await px.waitForLine(`connect ${ky}`, { after: fx, timeoutMs: 20_000 })
        await py.waitForLine(`connect ${kx}`, { after: fy, timeoutMs: 20_000 })
        const [again] = await peersOf(dialer === fromX ? px : py)
        if (again?.attempt?.used === 'turn') ok++
        times.push(Date.now() - at)
      } catch (err) {
        console.log(`round ${round}: ${String(err)}`)
      }
    }
    times.sort((a, b) => a - b)
    console.log(
      `TURN hard<->hard: first connect ${firstMs} ms after ready, ls ${lsMs} ms; ` +
        `reconnects ${ok}/${ROUNDS} via turn, median ${times[times.length >> 1]} ms, max ${times.at(-1)} ms; ` +
        `relay bytes in ${stats.bytesIn} out ${stats.bytesOut}`,
    )
    expect(ok).toBe(ROUNDS)
    expect(JSON.parse(await ask(py, `ls ${kx} share`, /^ls /))).toEqual(['share/song.flac'])
    // Both allocations live on coturn until stop, which deletes them (Refresh, lifetime 0).
    const relayPorts = async () => (await lab.pub.exec('ss', ['-ulnH'])).toString()
    for (const r of [relayedX!, relayedY!]) expect(await relayPorts()).toContain(`${r} `)
    for (const p of [px, py]) {
      p.send('stop')
      await p.waitForLine('stopped', { timeoutMs: 15_000 })
    }
    for (const r of [relayedX!, relayedY!]) {
      await expect.poll(relayPorts, { timeout: 5000 }).not.toContain(`${r} `)
    }
  }, 240_000)
})
