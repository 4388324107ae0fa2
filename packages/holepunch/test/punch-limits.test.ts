import { generateKeyPairSync, randomBytes } from 'node:crypto'
import {
  createHolePuncher,
  type HolePuncher,
  isHolepunchError,
  type PunchOptions,
} from '@harddrive-party/holepunch'
import { PUNCH_LIMITS, planPunch } from '@harddrive-party/holepunch/internal'
import {
  type AnnouncedAddress,
  deriveTopicKeys,
  type NatType,
  openAnnouncement,
  sealAnnouncement,
} from '@harddrive-party/wire-protocol'
import { describe, expect, it } from 'vitest'
import { DgramDatagramSocket } from './helpers/sockets'
import { trackedSockets } from './helpers/tracked'
import { UdpServer } from './helpers/udp-server'

// Issue 9.5: what a hostile topic member can make us send. Its announcement goes through the
// real path: sealed, opened and checked by wire-protocol, then handed to a real puncher whose
// probes land on a real UDP socket that is not a peer (it never answers).

const sockets = trackedSockets()
const topic = await deriveTopicKeys('punch limits', { kdf: { N: 1024, r: 8, p: 1 } })

/** A fresh member key (they cost nothing to mint), announcing `addresses`, through the wire. */
function hostileAnnouncement(addresses: AnnouncedAddress[], nat: NatType = 'easy') {
  const jwk = generateKeyPairSync('ed25519').privateKey.export({ format: 'jwk' })
  const seed = new Uint8Array(Buffer.from(jwk.d ?? '', 'base64url'))
  const sealed = sealAnnouncement(
    {
      key: new Uint8Array(Buffer.from(jwk.x ?? '', 'base64url')),
      addresses,
      nat,
      timestamp: Date.now(),
      nonce: randomBytes(16),
    },
    topic,
    seed,
  )
  return openAnnouncement(sealed, topic)
}

async function startPuncher(options: { createSocket?: boolean } = {}): Promise<HolePuncher> {
  const socket = await sockets.dgram()
  const made: DgramDatagramSocket[] = []
  const puncher = createHolePuncher({
    socket,
    ...(options.createSocket
      ? {
          createSocket: async () => {
            const s = await DgramDatagramSocket.bind()
            made.push(s)
            return s
          },
        }
      : {}),
  })
  await puncher.start()
  sockets.defer(async () => {
    await puncher.stop()
    await Promise.allSettled(made.map((s) => s.close()))
  })
  return puncher
}

const codeOf = (r: PromiseSettledResult<unknown>): string =>
  r.status === 'fulfilled' ? 'ok' : isHolepunchError(r.reason) ? r.reason.code : String(r.reason)

const count = (codes: string[]): Record<string, number> => {
  const out: Record<string, number> = {}
  for (const c of codes) out[c] = (out[c] ?? 0) + 1
  return out
}

describe('punch limits (issue 9.5)', () => {
  it('issue 9.5: one hostile announcement processed 100 times sends a bounded number of packets to a non-peer', async () => {
    const victim = await UdpServer.bind('127.0.0.2')
    sockets.defer(() => victim.close())
    const puncher = await startPuncher()
    // A LAN address on our own host (loopback is allowed as `lan`): our side knows no public IP,
    // so the plan probes LAN addresses too, the widest case.
    const announcement = hostileAnnouncement([
      { host: '127.0.0.2', port: victim.address.port, kind: 'lan' },
    ])
    const options: PunchOptions = { timeoutMs: 300, probeIntervalMs: 50 }
    const results = await Promise.allSettled(
      Array.from({ length: 100 }, () =>
        puncher.punch({ secret: randomBytes(32), remote: announcement }, options),
      ),
    )
    await new Promise((r) => setTimeout(r, 100)) // let the last datagrams arrive
    const outcomes = count(results.map(codeOf))
    // One attempt probes once per 50 ms round for 300 ms: 7 rounds at most.
    const perAttempt = Math.floor(300 / 50) + 1
    const bound = PUNCH_LIMITS.perIp.burst * perAttempt
    console.log(
      `100 hostile punches: ${victim.received.length} packets reached the non-peer (bound ${bound}; ${JSON.stringify(outcomes)})`,
    )
    expect(outcomes).toEqual({
      PUNCH_TIMEOUT: PUNCH_LIMITS.perIp.burst,
      RATE_LIMITED: 100 - PUNCH_LIMITS.perIp.burst,
    })
    expect(victim.received.length).toBeGreaterThan(0)
    expect(victim.received.length).toBeLessThanOrEqual(bound)
  })

  it('issue 9.5: fresh keys and fresh IPs hit the overall limit', async () => {
    const puncher = await startPuncher()
    const attempts = PUNCH_LIMITS.overall.burst + 20
    const results: PromiseSettledResult<unknown>[] = []
    const started = performance.now()
    // Eight at a time: every attempt listens on the one socket, and more would only add noise.
    for (let i = 0; i < attempts; i += 8) {
      const batch = Array.from({ length: Math.min(8, attempts - i) }, (_, j) =>
        puncher.punch(
          {
            secret: randomBytes(32),
            remote: hostileAnnouncement([{ host: `127.0.9.${i + j + 1}`, port: 9, kind: 'lan' }]),
          },
          { timeoutMs: 50, maxPackets: 2 },
        ),
      )
      results.push(...(await Promise.allSettled(batch)))
    }
    // The overall bucket refills one attempt per `refillMs` while the batches run.
    const refilled = Math.floor((performance.now() - started) / PUNCH_LIMITS.overall.refillMs)
    const outcomes = count(results.map(codeOf))
    expect(Object.keys(outcomes).sort()).toEqual(['PUNCH_TIMEOUT', 'RATE_LIMITED'])
    expect(outcomes.PUNCH_TIMEOUT).toBeGreaterThanOrEqual(PUNCH_LIMITS.overall.burst)
    expect(outcomes.PUNCH_TIMEOUT).toBeLessThanOrEqual(PUNCH_LIMITS.overall.burst + refilled)
  })

  it('issue 9.5: a birthday spray takes its target IP for the whole burst', async () => {
    const victim = await UdpServer.bind('127.0.0.3')
    sockets.defer(() => victim.close())
    const puncher = await startPuncher()
    const local = { nat: 'easy' as const, publicAddress: { host: '198.51.100.1', port: 4000 } }
    // A "hard" peer at the victim's IP: we would spray random ports of it.
    const remote = {
      nat: 'hard' as const,
      addresses: [{ host: '127.0.0.3', port: 0, kind: 'public' as const }],
    }
    const options: PunchOptions = { timeoutMs: 200, maxProbes: 30, sprayIntervalMs: 1 }
    const first = await Promise.allSettled([
      puncher.punch({ secret: randomBytes(32), local, remote }, options),
    ])
    const again = await Promise.allSettled([
      puncher.punch({ secret: randomBytes(32), local, remote }, options),
    ])
    expect([codeOf(first[0]!), codeOf(again[0]!)]).toEqual(['PUNCH_TIMEOUT', 'RATE_LIMITED'])
  })

  it('issue 9.5: the birthday queue holds one running and a few waiting attempts, and refuses more', async () => {
    const puncher = await startPuncher({ createSocket: true })
    const local = { nat: 'hard' as const, publicAddress: { host: '198.51.100.1', port: 4000 } }
    const shutdown = new AbortController()
    const queued = PUNCH_LIMITS.queuedBirthdays
    const attempts = Array.from({ length: queued + 4 }, (_, i) =>
      puncher.punch(
        {
          secret: randomBytes(32),
          local,
          remote: {
            nat: 'easy',
            addresses: [{ host: `127.0.8.${i + 1}`, port: 9, kind: 'public' }],
          },
        },
        { signal: shutdown.signal, birthdaySockets: 2, openingTtl: 0, timeoutMs: 5000 },
      ),
    )
    await new Promise((r) => setTimeout(r, 50))
    shutdown.abort()
    const codes = (await Promise.allSettled(attempts)).map(codeOf)
    // 1 running + `queued` waiting were accepted (then aborted); the rest refused at once.
    expect(codes.filter((c) => c === 'RATE_LIMITED')).toHaveLength(3)
    expect(codes.slice(queued + 1)).toEqual(['RATE_LIMITED', 'RATE_LIMITED', 'RATE_LIMITED'])
  })
})

describe('planPunch and LAN addresses (issue 9.5)', () => {
  const ours = { nat: 'easy' as const, publicAddress: { host: '203.0.113.1', port: 4000 } }

  it('issue 9.5: a peer claiming our public IP only gets LAN addresses on our own subnets probed', () => {
    const remote = {
      nat: 'easy' as const,
      addresses: [
        { host: '203.0.113.1', port: 5000, kind: 'public' as const },
        { host: '192.168.1.9', port: 22, kind: 'lan' as const },
        { host: '192.168.2.1', port: 22, kind: 'lan' as const },
        { host: '10.0.0.1', port: 22, kind: 'lan' as const },
      ],
    }
    expect(
      planPunch(ours, remote, { localSubnets: ['192.168.1.7/24', '127.0.0.1/8'] }),
    ).toMatchObject({
      technique: 'direct',
      candidates: [{ host: '192.168.1.9', port: 22 }],
    })
    // None on our subnets: no LAN address at all, the public address as for any peer.
    expect(planPunch(ours, remote, { localSubnets: ['172.16.0.2/16'] })).toMatchObject({
      technique: 'simultaneous',
      candidates: [{ host: '203.0.113.1', port: 5000 }],
    })
  })

  it('issue 9.5: never probes unspecified, multicast, broadcast, link-local or reserved addresses, nor a global one as LAN', () => {
    const remote = {
      nat: 'open' as const,
      addresses: [
        { host: '0.0.0.0', port: 1, kind: 'public' as const },
        { host: '224.0.0.251', port: 5353, kind: 'public' as const },
        { host: '255.255.255.255', port: 1, kind: 'public' as const },
        { host: '169.254.169.254', port: 80, kind: 'public' as const },
        { host: 'fe80::1', port: 1, kind: 'public' as const },
        { host: '240.0.0.1', port: 1, kind: 'public' as const },
        { host: '8.8.8.8', port: 53, kind: 'lan' as const },
      ],
    }
    expect(planPunch({ nat: 'unknown' }, remote)).toMatchObject({
      ok: false,
      code: 'NO_REMOTE_ADDRESS',
    })
  })
})
