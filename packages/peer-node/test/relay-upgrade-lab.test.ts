import { createHash, randomBytes } from 'node:crypto'
import { writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import type { PeerInfo, RelayInfo } from '@harddrive-party/peer-node'
import {
  hasCoturn,
  hasMiniupnpd,
  type LabProcess,
  type Miniupnpd,
  startMiniupnpd,
  startStunServer,
} from '@harddrive-party/test-lab'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import {
  ask,
  browse,
  browseOf,
  type PeerLab,
  peerLabSkipReason,
  peersOf,
  readyOf,
  startPeerLab,
} from './peer-lab'

// Relayed connections give way to direct ones, and TURN gives way to a relaying member when
// the pair cannot use it. Every pair here is hard<->hard (no punch connects them); a direct path
// appears when miniupnpd starts on one side's router while the pair is relayed: that peer's
// next NAT recheck maps its port, it announces `open`, and both sides plan again.

const labSkip = peerLabSkipReason('relay upgrade lab')
const reason =
  labSkip ||
  (!hasMiniupnpd()
    ? 'skipped: miniupnpd is not installed (apt-get install --no-install-recommends miniupnpd)'
    : !hasCoturn()
      ? 'skipped: coturn is not installed'
      : '')
if (reason && !labSkip) console.warn(`relay upgrade lab: ${reason}`)
const TURN = 'turn://hdp:lab%20pass@198.51.100.1:3480'
/** The file downloaded across the upgrade, and the download's rate cap (so it is in flight). */
const FILE_BYTES = 12 * 1024 * 1024
const RATE = 1024 * 1024

describe.skipIf(reason !== '')('relayed connections upgraded to direct ones', () => {
  let peerLab: PeerLab

  beforeAll(async () => {
    peerLab = await startPeerLab({
      nats: {
        A: 'hard',
        B: 'hard',
        C: 'hard',
        D: 'hard',
        E: 'hard',
        F: 'hard',
        G: 'hard',
        H: 'hard',
      },
      hosts: {
        ...{ a: 'A', b: 'B', x: 'C', y: 'D', f: 'E', g: 'F', c: 'G', d: 'H' },
        ...{ r: undefined, s: undefined, t: undefined },
      },
      prefix: 'hdp-upgrade-lab-',
    })
    const turn = await startStunServer({
      ns: peerLab.lab.pub,
      addresses: ['198.51.100.1'],
      port: 3480,
      dir: peerLab.lab.lab.dir,
      turn: { username: 'hdp', password: 'lab pass', realm: 'lab.example' },
    })
    peerLab.onStop(() => turn.stop())
  }, 90_000)

  afterAll(() => peerLab?.stop())

  const ready = (p: LabProcess, name: string) =>
    p
      .waitForLine(/^ready /, { timeoutMs: 180_000 })
      .then(() => readyOf(p))
      .catch((err: unknown) => {
        throw new Error(`${name} not ready: ${p.lines.join(' | ')} ${p.stderr.slice(-2000)}`, {
          cause: err,
        })
      })

  async function peerOf(proc: LabProcess, key: string): Promise<PeerInfo> {
    const peer = (await peersOf(proc)).find((p) => p.hex === key)
    expect(peer?.connected).toBe(true)
    return peer!
  }

  /** miniupnpd on `router`, once it forwards (its STUN check says the wan is public). */
  async function mapOn(router: string): Promise<Miniupnpd> {
    const [stun, other] = peerLab.lab.stunServers
    const upnp = await startMiniupnpd(peerLab.lab.router(router), {
      stun: { host: stun!.host, port: stun!.port, otherHost: other!.host },
      dir: peerLab.lab.lab.dir,
    })
    peerLab.onStop(() => upnp.stop())
    for (let i = 0; i < 100 && !upnp.process.stderr.includes('Port forwarding is now enabled'); i++)
      await new Promise((resolve) => setTimeout(resolve, 100))
    expect(upnp.process.stderr).toContain('Port forwarding is now enabled')
    return upnp
  }

  /** A share holding the browse fixture and `film.bin` (random bytes); returns its sha256. */
  async function shareWithFilm(name: string): Promise<{ share: string; sha: string }> {
    const share = await peerLab.share(name)
    const data = randomBytes(FILE_BYTES)
    await writeFile(join(share, 'film.bin'), data)
    return { share, sha: createHash('sha256').update(data).digest('hex') }
  }

  /**
   * `from` downloads `film.bin` from `key` while a mapping appears on `router`: the pair ends
   * direct on both sides before the download is done, and the download completes byte-exact.
   */
  async function upgradeDuringDownload(o: {
    dialer: LabProcess
    kDialer: string
    acceptor: LabProcess
    kAcceptor: string
    router: string
    shareName: string
    sha: string
  }) {
    const { dialer, acceptor, kDialer, kAcceptor } = o
    const marks = [dialer.lines.length, acceptor.lines.length] as const
    acceptor.send(`download ${kDialer} ${o.shareName}/film.bin`)
    await new Promise((resolve) => setTimeout(resolve, 1500)) // the transfer is under way
    const mappedAt = Date.now()
    await mapOn(o.router)
    // The upgrade is a new live connection on both sides (`connect` again, no `disconnect`).
    const again = (k: string) => new RegExp(`^connect ${k}`)
    await dialer.waitForLine(again(kAcceptor), { after: marks[0], timeoutMs: 60_000 })
    await acceptor.waitForLine(again(kDialer), { after: marks[1], timeoutMs: 30_000 })
    const upgradeMs = Date.now() - mappedAt
    const inFlight = !acceptor.lines.slice(marks[1]).some((l) => /^download(ed|-error) /.test(l))
    const [fromDialer, fromAcceptor] = [
      await peerOf(dialer, kAcceptor),
      await peerOf(acceptor, kDialer),
    ]
    expect(fromDialer.connection?.path).toBe('direct')
    expect(fromAcceptor.connection?.path).toBe('direct')
    expect(fromDialer.attempt?.used).toBe('direct')
    expect(fromDialer.attempt?.nextUpgradeAt).toBeUndefined()
    const line = await acceptor.waitForLine(/^download(ed|-error) /, {
      after: marks[1],
      timeoutMs: 120_000,
    })
    expect(line).toBe(`downloaded ${o.sha} ${FILE_BYTES}`)
    // No disconnect on either side: the relayed connection was replaced, not lost.
    expect(dialer.lines.slice(marks[0]).filter((l) => l.startsWith('disconnect '))).toEqual([])
    expect(acceptor.lines.slice(marks[1]).filter((l) => l.startsWith('disconnect '))).toEqual([])
    expect(inFlight).toBe(true)
    return { upgradeMs, downloadMs: Date.now() - mappedAt }
  }

  it('member relay -> direct when a port mapping appears; a download in flight completes', async () => {
    const topic = 'upgrade relay'
    const [da, db] = await peerLab.dirsWhereFirstDials(topic)
    const shareName = 'upgrade-relay'
    const { share, sha } = await shareWithFilm(shareName)
    const relay = peerLab.start(peerLab.hosts.r!, {
      dir: join(peerLab.dir, 'relay-r'),
      topic,
      extra: ['--relay', String(64 * 1024 * 1024)],
    })
    const recheck = ['--nat-recheck', '2000']
    const a = peerLab.start(peerLab.hosts.a!, { dir: da, topic, share, extra: recheck })
    const b = peerLab.start(peerLab.hosts.b!, {
      dir: db,
      topic,
      extra: [...recheck, '--port-mapping', 'nat-pmp', '--download-rate', String(RATE)],
    })
    const [, ka, kb] = await Promise.all([ready(relay, 'r'), ready(a, 'a'), ready(b, 'b')])
    expect([ka.nat, kb.nat]).toEqual(['hard', 'hard'])
    await a.waitForLine(`connect ${kb.key}`, { timeoutMs: 90_000 })
    await b.waitForLine(`connect ${ka.key}`, { timeoutMs: 30_000 })
    const relayed = await peerOf(a, kb.key)
    expect(relayed.connection?.path).toBe('relay')
    expect(relayed.attempt?.used).toBe('relay')
    expect(relayed.attempt?.nextUpgradeAt).toBeGreaterThan(Date.now())
    expect((await peerOf(b, ka.key)).connection?.path).toBe('relay')
    expect(await browse(b, ka.key, shareName)).toEqual(browseOf(shareName))

    const took = await upgradeDuringDownload({
      dialer: a,
      kDialer: ka.key,
      acceptor: b,
      kAcceptor: kb.key,
      router: 'B',
      shareName,
      sha,
    })
    expect(await browse(b, ka.key, shareName)).toEqual(browseOf(shareName))
    // The relayed connection closed once its streams ended: the relay holds no pair.
    let report = await ask<RelayInfo>(relay, 'relay')
    for (let i = 0; i < 80 && report.pairs.length > 0; i++) {
      await new Promise((resolve) => setTimeout(resolve, 500))
      report = await ask<RelayInfo>(relay, 'relay')
    }
    expect(report.pairs).toEqual([])
    console.log(
      `relay -> direct: ${took.upgradeMs} ms after miniupnpd started; download of ${FILE_BYTES} bytes done ${took.downloadMs} ms after; the relay forwarded ${report.bytesForwarded} bytes in all`,
    )
  }, 480_000)

  it('TURN -> direct when a port mapping appears; a download in flight completes', async () => {
    const topic = 'upgrade turn'
    const [dx, dy] = await peerLab.dirsWhereFirstDials(topic)
    const shareName = 'upgrade-turn'
    const { share, sha } = await shareWithFilm(shareName)
    const common = ['--turn', TURN, '--nat-recheck', '2000']
    const x = peerLab.start(peerLab.hosts.x!, { dir: dx, topic, share, extra: common })
    const y = peerLab.start(peerLab.hosts.y!, {
      dir: dy,
      topic,
      extra: [...common, '--port-mapping', 'nat-pmp', '--download-rate', String(RATE)],
    })
    const [kx, ky] = await Promise.all([ready(x, 'x'), ready(y, 'y')])
    expect([kx.nat, ky.nat]).toEqual(['hard', 'hard'])
    await x.waitForLine(`connect ${ky.key}`, { timeoutMs: 90_000 })
    await y.waitForLine(`connect ${kx.key}`, { timeoutMs: 30_000 })
    // Both sides see the TURN connection as one (the acceptor by its relay's loopback stand-in).
    const viaTurn = await peerOf(x, ky.key)
    expect(viaTurn.attempt?.used).toBe('turn')
    expect(viaTurn.connection?.path).toBe('turn')
    expect((await peerOf(y, kx.key)).connection?.path).toBe('turn')
    expect(await browse(y, kx.key, shareName)).toEqual(browseOf(shareName))

    const took = await upgradeDuringDownload({
      dialer: x,
      kDialer: kx.key,
      acceptor: y,
      kAcceptor: ky.key,
      router: 'D',
      shareName,
      sha,
    })
    expect(await browse(y, kx.key, shareName)).toEqual(browseOf(shareName))
    console.log(
      `turn -> direct: ${took.upgradeMs} ms after miniupnpd started; download of ${FILE_BYTES} bytes done ${took.downloadMs} ms after`,
    )
  }, 480_000)

  it('TURN unusable for the pair: the same attempt goes on through a relaying member', async () => {
    const topic = 'turn fallback'
    // g dials: it has no TURN, f holds an allocation, so g dials f's relayed address first.
    const [dg, df] = await peerLab.dirsWhereFirstDials(topic)
    const router = peerLab.lab.router('F')
    // coturn drops what g's NAT sends to relayed addresses: TURN cannot work for this pair.
    await peerLab.lab.pub.exec('iptables', [
      ...['-A', 'INPUT', '-s', router.publicAddress, '-d', '198.51.100.1'],
      ...['-p', 'udp', '--dport', '49152:65535', '-j', 'DROP'],
    ])
    const shareName = 'fallback'
    const share = await peerLab.share(shareName)
    const relay = peerLab.start(peerLab.hosts.s!, {
      dir: join(peerLab.dir, 'relay-s'),
      topic,
      extra: ['--relay', String(64 * 1024 * 1024)],
    })
    const wait = ['--accept-wait', '4000']
    const f = peerLab.start(peerLab.hosts.f!, {
      dir: df,
      topic,
      share,
      extra: [...wait, '--turn', TURN],
    })
    const g = peerLab.start(peerLab.hosts.g!, { dir: dg, topic, extra: wait })
    const [, kf, kg] = await Promise.all([ready(relay, 's'), ready(f, 'f'), ready(g, 'g')])
    expect([kf.nat, kg.nat]).toEqual(['hard', 'hard'])
    await g.waitForLine(`connect ${kf.key}`, { timeoutMs: 120_000 })
    await f.waitForLine(`connect ${kg.key}`, { timeoutMs: 30_000 })
    const fromG = await peerOf(g, kf.key)
    expect(fromG.attempt?.tried).toEqual(['turn', 'relay'])
    expect(fromG.attempt?.used).toBe('relay')
    expect(fromG.connection?.path).toBe('relay')
    const fromF = await peerOf(f, kg.key)
    expect(fromF.attempt?.used).toBe('relay')
    expect(fromF.connection?.path).toBe('relay')
    expect(await browse(g, kf.key, shareName)).toEqual(browseOf(shareName))
    console.log(
      `turn fallback: g tried ${fromG.attempt?.tried.join(', ')} in ${fromG.attempt?.elapsedMs} ms (attempt ${fromG.attempt?.attempts}); f tried ${fromF.attempt?.tried.join(', ')}`,
    )
  }, 480_000)

  it('member relay -> direct (birthday punch) when one NAT turns from hard to easy', async () => {
    const topic = 'upgrade nat change'
    const [dc, dd] = await peerLab.dirsWhereFirstDials(topic)
    const shareName = 'nat-change'
    const share = await peerLab.share(shareName)
    const relay = peerLab.start(peerLab.hosts.t!, {
      dir: join(peerLab.dir, 'relay-t'),
      topic,
      extra: ['--relay', String(64 * 1024 * 1024)],
    })
    const recheck = ['--nat-recheck', '2000']
    const c = peerLab.start(peerLab.hosts.c!, { dir: dc, topic, share, extra: recheck })
    const d = peerLab.start(peerLab.hosts.d!, { dir: dd, topic, extra: recheck })
    const [, kc, kd] = await Promise.all([ready(relay, 't'), ready(c, 'c'), ready(d, 'd')])
    expect([kc.nat, kd.nat]).toEqual(['hard', 'hard'])
    await c.waitForLine(`connect ${kd.key}`, { timeoutMs: 90_000 })
    await d.waitForLine(`connect ${kc.key}`, { timeoutMs: 30_000 })
    expect((await peerOf(c, kd.key)).connection?.path).toBe('relay')
    const marks = [c.lines.length, d.lines.length] as const
    // Router H keeps the source port from now on (MASQUERADE without --random-fully): an easy
    // NAT. Its conntrack entries of the STUN flows go, so d's next NAT check sees the new rule;
    // the relayed connection's entry stays (its flow keeps working).
    const router = peerLab.lab.router('H')
    await router.ns.exec('iptables', [
      ...['-t', 'nat', '-R', 'POSTROUTING', '1', '-s', `${router.subnet}.0/24`],
      ...['-o', 'wan', '-j', 'MASQUERADE'],
    ])
    const changedAt = Date.now()
    for (const stun of peerLab.lab.stunServers)
      await router.ns.exec('sh', [
        '-c',
        `conntrack -D -p udp -d ${stun.host} >/dev/null 2>&1 || true`,
      ])
    const again = (k: string) => new RegExp(`^connect ${k}`)
    await c.waitForLine(again(kd.key), { after: marks[0], timeoutMs: 90_000 })
    await d.waitForLine(again(kc.key), { after: marks[1], timeoutMs: 30_000 })
    const upgradeMs = Date.now() - changedAt
    const [fromC, fromD] = [await peerOf(c, kd.key), await peerOf(d, kc.key)]
    expect(fromC.attempt?.theirNat).toBe('easy')
    expect(fromC.attempt?.used).toBe('birthday')
    expect(fromC.connection?.path).toBe('direct')
    expect(fromD.connection?.path).toBe('direct')
    expect(c.lines.slice(marks[0]).filter((l) => l.startsWith('disconnect '))).toEqual([])
    expect(await browse(d, kc.key, shareName)).toEqual(browseOf(shareName))
    console.log(
      `relay -> direct after hard -> easy: ${upgradeMs} ms after the NAT changed (${fromC.attempt?.used}, look ${fromC.attempt?.attempts})`,
    )
  }, 480_000)
})
