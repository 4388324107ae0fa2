/**
 * The compliance suite of the {@link Transport} interface (style rule H22): every
 * implementation (this UDX one, a future QUIC one) runs it from its own tests:
 *
 * ```ts
 * import { transportCompliance } from '@harddrive-party/transport/testing'
 * transportCompliance('udx transport', { create: (o) => createTransport({ ...o, host: '127.0.0.1' }) })
 * ```
 *
 * It checks the lifecycle (idempotent start/stop, restart), authentication (wrong key, topic
 * proof, firewall), streams (concurrency, half-close, abort, backpressure), close events and
 * that every failure is typed. It uses real sockets on 127.0.0.1.
 */
import type { TopicKeys } from '@harddrive-party/wire-protocol'
import { afterEach, beforeAll, describe, expect, it } from 'vitest'
import { isTransportError } from './errors'
import { createIdentity, type Identity } from './identity'
import { echo, expectCode, nextConnection, readAll, testTopic, within } from './testing-helpers'
import type { Connection, SocketAddress, Transport, TransportOptions } from './types'

export interface ComplianceTransportOptions {
  identity: Identity
  topics: () => Iterable<TopicKeys>
  firewall?: NonNullable<TransportOptions['firewall']>
}

export interface ComplianceSetup {
  /** A new, not yet started transport listening on loopback. */
  create(options: ComplianceTransportOptions): Transport
  /** Where others dial `transport` (default: 127.0.0.1 and its bound port). */
  addressOf?(transport: Transport): SocketAddress
}

export {
  duplexPair,
  nextConnection,
  readAll,
  serveEcho,
  testTopic,
  within,
} from './testing-helpers'

export function transportCompliance(name: string, setup: ComplianceSetup): void {
  const addressOf =
    setup.addressOf ??
    ((t: Transport): SocketAddress => ({ host: '127.0.0.1', port: t.address().port }))

  describe(`transport compliance: ${name}`, () => {
    let topic: TopicKeys
    let other: TopicKeys
    const live: Transport[] = []

    beforeAll(async () => {
      topic = await testTopic('compliance')
      other = await testTopic('compliance-other')
    })

    afterEach(async () => {
      await Promise.allSettled(live.splice(0).map((t) => t.stop()))
    })

    function make(options: Partial<ComplianceTransportOptions> = {}): Transport {
      const transport = setup.create({
        identity: options.identity ?? createIdentity(),
        topics: options.topics ?? (() => [topic]),
        ...(options.firewall !== undefined ? { firewall: options.firewall } : {}),
      })
      live.push(transport)
      return transport
    }

    async function pair(options: Partial<ComplianceTransportOptions> = {}) {
      const a = make()
      const b = make(options)
      await Promise.all([a.start(), b.start()])
      const accepted = nextConnection(b)
      const dialled = await within(a.dial(addressOf(b), b.publicKey, { topic }), 10_000, 'dial')
      return { a, b, dialled, accepted: await accepted }
    }

    it('start and stop are idempotent, and a stopped transport starts again', async () => {
      const t = make()
      await t.stop() // stop before start
      await Promise.all([t.start(), t.start()])
      await t.start()
      expect(t.address().port).toBeGreaterThan(0)
      await Promise.all([t.stop(), t.stop()])
      await t.stop()
      await t.start()
      expect(t.address().port).toBeGreaterThan(0)
      await t.stop()
    })

    it('refuses to dial before start with NOT_STARTED', async () => {
      const t = make()
      await expectCode(
        t.dial({ host: '127.0.0.1', port: 9 }, t.publicKey, { topic }),
        'NOT_STARTED',
      )
    })

    it('connects both ends with proven keys and the shared topic', async () => {
      const { a, b, dialled, accepted } = await pair()
      expect(Buffer.from(dialled.remotePublicKey)).toEqual(Buffer.from(b.publicKey))
      expect(Buffer.from(accepted.remotePublicKey)).toEqual(Buffer.from(a.publicKey))
      expect(dialled.initiator).toBe(true)
      expect(accepted.initiator).toBe(false)
      expect(dialled.topic.publicId).toBe(topic.publicId)
      expect(accepted.topic.publicId).toBe(topic.publicId)
      expect(Buffer.from(dialled.handshakeHash)).toEqual(Buffer.from(accepted.handshakeHash))
      expect(a.connections()).toContain(dialled)
      expect(b.connections()).toContain(accepted)
    })

    it('fails with PEER_KEY_MISMATCH when the remote proves another key, in both directions', async () => {
      const a = make()
      const b = make()
      await Promise.all([a.start(), b.start()])
      let accepted = 0
      for (const t of [a, b]) t.addEventListener('connection', () => accepted++)
      const stranger = createIdentity().publicKey
      await expectCode(a.dial(addressOf(b), stranger, { topic }), 'PEER_KEY_MISMATCH')
      await expectCode(b.dial(addressOf(a), stranger, { topic }), 'PEER_KEY_MISMATCH')
      expect(accepted).toBe(0)
      expect(a.connections()).toHaveLength(0)
      expect(b.connections()).toHaveLength(0)
    })

    it('fails with NOT_TOPIC_MEMBER when the dialer cannot prove a topic of the acceptor', async () => {
      const a = make()
      const b = make({ topics: () => [other] })
      await Promise.all([a.start(), b.start()])
      let accepted = 0
      b.addEventListener('connection', () => accepted++)
      await expectCode(a.dial(addressOf(b), b.publicKey, { topic }), 'NOT_TOPIC_MEMBER')
      expect(accepted).toBe(0)
    })

    it("fails with REJECTED when the acceptor's firewall refuses the dialer's key", async () => {
      const a = make()
      const seen: Uint8Array[] = []
      const b = make({
        firewall: (key) => {
          seen.push(key)
          return true
        },
      })
      await Promise.all([a.start(), b.start()])
      await expectCode(a.dial(addressOf(b), b.publicKey, { topic }), 'REJECTED')
      expect(seen.length).toBeGreaterThan(0)
      expect(Buffer.from(seen[0]!)).toEqual(Buffer.from(a.publicKey))
      expect(b.connections()).toHaveLength(0)
    })

    it('carries many concurrent independent streams in both directions', async () => {
      const { dialled, accepted } = await pair()
      for (const c of [dialled, accepted]) {
        void (async () => {
          for await (const s of c.incomingStreams()) void echo(s)
        })()
      }
      const roundTrip = async (c: Connection, i: number) => {
        const data = crypto.getRandomValues(new Uint8Array(16 * 1024 + i * 997))
        const s = await c.openStream()
        const reply = readAll(s)
        await s.write(data)
        await s.end()
        expect(Buffer.from(await reply).equals(data)).toBe(true)
      }
      const work: Promise<void>[] = []
      for (let i = 0; i < 24; i++) work.push(roundTrip(i % 2 ? dialled : accepted, i))
      await within(Promise.all(work), 20_000, 'concurrent echoes')
    })

    it('half-closes: the reader sees the end while it can still write back', async () => {
      const { dialled, accepted } = await pair()
      const served = (async () => {
        for await (const s of accepted.incomingStreams()) {
          const got = await readAll(s) // ends when the dialer calls end()
          await s.write(new TextEncoder().encode(`read ${got.length}`))
          await s.end()
          return
        }
      })()
      const s = await dialled.openStream()
      await s.write(new Uint8Array(1000))
      await s.end()
      expect(new TextDecoder().decode(await readAll(s))).toBe('read 1000')
      await within(s.closed, 5000, 'stream closed')
      await served
    })

    it('aborting a stream fails the local side with the reason and the remote with RESET', async () => {
      const { dialled, accepted } = await pair()
      const remote = (async () => {
        for await (const s of accepted.incomingStreams())
          return readAll(s).then(
            () => undefined,
            (e) => e,
          )
      })()
      const controller = new AbortController()
      const s = await dialled.openStream({ signal: controller.signal })
      await s.write(new Uint8Array(4096))
      controller.abort()
      const local = await s.write(new Uint8Array(1)).then(
        () => undefined,
        (e: unknown) => e,
      )
      expect((local as Error).name).toBe('AbortError')
      const remoteError = await within(remote, 5000, 'remote reset')
      expect(isTransportError(remoteError)).toBe(true)
      expect((remoteError as { code: string }).code).toBe('RESET')
      // The connection survives a stream abort.
      const again = await dialled.openStream()
      expect(again.id).toBeGreaterThan(s.id)
    })

    it('leaving a read loop early stops the sender (RESET) but not the answer', async () => {
      const { dialled, accepted } = await pair()
      void (async () => {
        for await (const s of accepted.incomingStreams()) {
          for await (const _ of s) break // one chunk of the request is enough
          await s.write(new TextEncoder().encode('enough'))
          await s.end()
        }
      })()
      const s = await dialled.openStream()
      const writing = (async () => {
        for (;;) await s.write(new Uint8Array(64 * 1024))
      })().then(
        () => undefined,
        (e: unknown) => e,
      )
      expect(new TextDecoder().decode(await within(readAll(s), 5000, 'answer'))).toBe('enough')
      const err = await within(writing, 5000, 'writer stopped')
      expect(isTransportError(err) && err.code).toBe('RESET')
    })

    it('honours an already aborted signal with the platform AbortError', async () => {
      const { a, b, dialled } = await pair()
      const aborted = AbortSignal.abort()
      const e1 = await a.dial(addressOf(b), b.publicKey, { topic, signal: aborted }).catch((e) => e)
      expect((e1 as Error).name).toBe('AbortError')
      const e2 = await dialled.openStream({ signal: aborted }).catch((e) => e)
      expect((e2 as Error).name).toBe('AbortError')
    })

    it('applies backpressure: a writer facing a reader that does not read is held back', async () => {
      const { dialled, accepted } = await pair()
      const held = (async () => {
        for await (const s of accepted.incomingStreams()) return s // never read
      })()
      const s = await dialled.openStream()
      const chunk = new Uint8Array(64 * 1024)
      let written = 0
      const writer = (async () => {
        for (let i = 0; i < 1024; i++) {
          await s.write(chunk)
          written += chunk.length
        }
      })()
      void writer.catch(() => {})
      await within(held, 5000, 'incoming stream')
      await new Promise((r) => setTimeout(r, 500))
      // 64 MiB offered; only windows and buffers' worth may have been accepted.
      expect(written).toBeLessThan(16 * 1024 * 1024)
      expect(written).toBeGreaterThan(0)
      s.abort()
    })

    it('closing a connection fails its streams with CLOSED and tells the remote', async () => {
      const { dialled, accepted } = await pair()
      const remoteClosed = within(
        new Promise<Error>((resolve) =>
          accepted.addEventListener('close', (e) => resolve(e.detail), { once: true }),
        ),
        5000,
        'remote close event',
      )
      const s = await dialled.openStream()
      const reading = readAll(s).then(
        () => undefined,
        (e: unknown) => e,
      )
      await dialled.close()
      const err = await reading
      expect(isTransportError(err) && err.code).toBe('CLOSED')
      expect(isTransportError(await remoteClosed)).toBe(true)
      expect(dialled.closeReason).toBeDefined()
      await expectCode(dialled.openStream(), 'CLOSED')
    })

    it("stopping a transport closes its connections and the remote's ends", async () => {
      const { a, b, accepted } = await pair()
      const remoteClosed = within(
        new Promise<Error>((resolve) =>
          accepted.addEventListener('close', (e) => resolve(e.detail), { once: true }),
        ),
        5000,
        'remote close event',
      )
      await a.stop()
      expect(isTransportError(await remoteClosed)).toBe(true)
      expect(a.connections()).toHaveLength(0)
      await within(
        (async () => {
          while (b.connections().length > 0) await new Promise((r) => setTimeout(r, 20))
        })(),
        5000,
        'acceptor forgets the connection',
      )
    })

    it('exposes its port as a DatagramSocket that reaches other transports', async () => {
      const a = make()
      const b = make()
      await Promise.all([a.start(), b.start()])
      const got = new Promise<{ data: Uint8Array; from: { port: number } }>((resolve) => {
        const off = b.socket.onMessage((data, from) => {
          off()
          resolve({ data, from })
        })
      })
      const payload = new TextEncoder().encode('stun-ish datagram')
      await a.socket.send(payload, addressOf(b).port, addressOf(b).host)
      const { data, from } = await within(got, 5000, 'datagram')
      expect(Buffer.from(data).equals(Buffer.from(payload))).toBe(true)
      expect(from.port).toBe(a.socket.port)
    })
  })
}
