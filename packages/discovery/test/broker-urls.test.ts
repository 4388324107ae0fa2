import { execFile } from 'node:child_process'
import { mkdtemp, readFile, rm } from 'node:fs/promises'
import { createServer as createHttpServer, type Server as HttpServer } from 'node:http'
import { createServer as createHttpsServer } from 'node:https'
import type { Socket } from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { createServer as createTlsServer, type Server as TlsServer } from 'node:tls'
import { fileURLToPath } from 'node:url'
import { promisify } from 'node:util'
import { createMqttDiscovery } from '@harddrive-party/discovery'
import {
  byKey,
  createTestIdentity,
  testTopicKeys,
  waitForPeer,
} from '@harddrive-party/discovery/testing'
import { spawnNode } from '@harddrive-party/test-lab'
import { Aedes } from 'aedes'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { createWebSocketStream, WebSocketServer } from 'ws'

// One aedes broker reached four ways: mqtt://, mqtts:// (TLS with a self-signed certificate
// the clients are told to trust), ws:// and wss://.
let broker: Aedes
let cert: Buffer
let dir: string
const servers: (HttpServer | TlsServer)[] = []
const sockets = new Set<Socket>()
const urls: Record<string, string> = {}
const fixture = fileURLToPath(new URL('./fixtures/pair-via-url.ts', import.meta.url))

const portOf = (s: HttpServer | TlsServer) => (s.address() as { port: number }).port
const listen = (s: HttpServer | TlsServer) =>
  new Promise<void>((resolve) => s.listen(0, '127.0.0.1', () => resolve()))

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'hdp-tls-'))
  await promisify(execFile)('openssl', [
    'req',
    '-x509',
    '-newkey',
    'ec',
    '-pkeyopt',
    'ec_paramgen_curve:prime256v1',
    '-nodes',
    '-keyout',
    join(dir, 'key.pem'),
    '-out',
    join(dir, 'cert.pem'),
    '-days',
    '1',
    '-subj',
    '/CN=localhost',
    '-addext',
    'subjectAltName=IP:127.0.0.1',
  ])
  cert = await readFile(join(dir, 'cert.pem'))
  const key = await readFile(join(dir, 'key.pem'))
  broker = await Aedes.createBroker()
  const track = (s: Socket) => {
    // A client refusing our certificate resets its connection: expected, not a failure.
    s.on('error', () => undefined)
    sockets.add(s)
    s.once('close', () => sockets.delete(s))
  }
  const tls = createTlsServer({ key, cert }, (s) => {
    track(s)
    broker.handle(s)
  })
  const http = createHttpServer()
  const https = createHttpsServer({ key, cert })
  for (const server of [http, https]) {
    server.on('connection', track)
    new WebSocketServer({ server }).on('connection', (ws) => {
      broker.handle(createWebSocketStream(ws))
    })
  }
  for (const s of [tls, http, https]) {
    await listen(s)
    servers.push(s)
  }
  urls.mqtts = `mqtts://127.0.0.1:${portOf(tls)}`
  urls.ws = `ws://127.0.0.1:${portOf(http)}`
  urls.wss = `wss://127.0.0.1:${portOf(https)}`
})

afterAll(async () => {
  for (const s of sockets) s.destroy()
  await Promise.all(servers.map((s) => new Promise((r) => s.close(r))))
  await new Promise<void>((r) => broker?.close(() => r()))
  await rm(dir, { recursive: true, force: true })
})

describe('broker URLs', () => {
  it.each(['ws', 'wss'])(
    'finds peers through a %s:// broker (peers in a child process)',
    async (scheme) => {
      const child = spawnNode(fixture, [urls[scheme]!, join(dir, 'cert.pem')])
      try {
        await child.waitForLine('found a mqtt', { timeoutMs: 20_000 })
        await child.waitForLine('found b mqtt', { timeoutMs: 5000 })
        expect((await child.exited).code).toBe(0)
      } finally {
        await child.stop()
      }
    },
  )

  it.each(['mqtts'])('finds peers through a %s:// broker', async (scheme) => {
    const topic = await testTopicKeys()
    const make = () => {
      const identity = createTestIdentity()
      const d = createMqttDiscovery({
        brokerUrl: urls[scheme]!,
        identity,
        getAnnouncement: () => ({ addresses: [], nat: 'unknown' }),
        clientOptions: { ca: cert },
      })
      return { d, identity }
    }
    const a = make()
    const b = make()
    try {
      for (const p of [a, b]) {
        await p.d.start()
        await p.d.join(topic)
      }
      await waitForPeer(a.d, byKey(b.identity.publicKey))
      const found = await waitForPeer(b.d, byKey(a.identity.publicKey))
      expect(found.via).toBe('mqtt')
    } finally {
      await Promise.all([a.d.stop(), b.d.stop()])
    }
  })

  it('does not trust a TLS broker it was not told to trust', async () => {
    const topic = await testTopicKeys()
    const d = createMqttDiscovery({
      brokerUrl: urls.mqtts!,
      identity: createTestIdentity(),
      getAnnouncement: () => ({ addresses: [], nat: 'unknown' }),
      reconnect: { initialDelayMs: 100, maxDelayMs: 200 },
    })
    const offline = new Promise<string>((resolve) =>
      d.addEventListener('status', (e) => resolve(e.detail.message)),
    )
    try {
      await d.start()
      await d.join(topic)
      expect(await offline).toMatch(/unreachable/)
    } finally {
      await d.stop()
    }
  })
})
