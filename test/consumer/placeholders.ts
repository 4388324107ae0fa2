// The only things added to a README example before it runs in the consumer project: the values
// the README leaves to the reader (a directory, a key pair, a socket), declared before its first
// line, and literal paths replaced. Each `replace` string must still occur in the README, so a
// fill cannot silently drift from the text it fills.

export interface Fill {
  /** Declarations put before the README lines (may import node: built-ins and the package). */
  before?: string
  /** Put after the README lines: releases what `before` opened. */
  after?: string
  /** `[README text, replacement]`, applied once each. */
  replace?: [string, string][]
}

// A plain node:dgram socket as holepunch's DatagramSocket, and a STUN responder on loopback
// (two of them: NAT classification asks two servers), so the example talks to 127.0.0.1 only.
const udp = `
import { createSocket as createUdpSocket } from 'node:dgram'
import { randomBytes } from 'node:crypto'
import type { DatagramSocket } from '@harddrive-party/holepunch'

type Listener = (data: Uint8Array, from: { host: string; port: number }) => void
async function bindUdp(host = '127.0.0.1', port = 0): Promise<DatagramSocket> {
  const s = createUdpSocket('udp4')
  await new Promise<void>((resolve, reject) => {
    s.once('error', reject)
    s.bind(port, host, () => resolve())
  })
  const listeners = new Set<Listener>()
  s.on('message', (msg, r) => {
    for (const l of listeners) l(new Uint8Array(msg), { host: r.address, port: r.port })
  })
  return {
    port: s.address().port,
    send: (data, toPort, toHost, options) =>
      new Promise<void>((resolve, reject) => {
        if (options?.ttl !== undefined) s.setTTL(options.ttl)
        s.send(data, toPort, toHost, (err) => (err ? reject(err) : resolve()))
      }),
    onMessage: (l) => {
      listeners.add(l)
      return () => listeners.delete(l)
    },
    close: () => new Promise<void>((resolve) => s.close(() => resolve())),
  }
}
async function stunResponder(): Promise<DatagramSocket> {
  const server = await bindUdp()
  server.onMessage((req, from) => {
    if (req.length < 20 || req[0] !== 0 || req[1] !== 1) return
    const res = new Uint8Array(32)
    const view = new DataView(res.buffer)
    view.setUint16(0, 0x0101)
    view.setUint16(2, 12)
    res.set(req.subarray(4, 20), 4)
    view.setUint16(20, 0x0020)
    view.setUint16(22, 8)
    view.setUint16(24, 0x0001)
    view.setUint16(26, from.port ^ 0x2112)
    const ip = from.host.split('.').map(Number)
    view.setUint32(28, ((ip[0]! << 24) | (ip[1]! << 16) | (ip[2]! << 8) | ip[3]!) ^ 0x2112a442)
    void server.send(res, from.port, from.host)
  })
  return server
}
`

export const fills: Record<string, Fill> = {
  'wire-protocol': {},
  'index-store': {
    before: `
import { mkdirSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
// Next to the database (the working directory), so a second run finds the same folder.
const musicDir = join(process.cwd(), 'srv', 'music')
mkdirSync(join(musicDir, 'Beatles', 'Abbey Road'), { recursive: true })
writeFileSync(join(musicDir, 'Beatles', 'Abbey Road', '01 Come Together.flac'), 'flac')
const remoteKey = new Uint8Array(32).fill(7)
`,
    replace: [["'/srv/music'", 'musicDir']],
  },
  transport: {
    before: `
import { mkdtempSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
const aliceDir = mkdtempSync(join(tmpdir(), 'hdp-consumer-alice-'))
const bobDir = mkdtempSync(join(tmpdir(), 'hdp-consumer-bob-'))
`,
  },
  holepunch: {
    before: `${udp}
import { createHolePuncher as createOtherPuncher } from '@harddrive-party/holepunch'
const stuns = [await stunResponder(), await stunResponder()]
const stunServers = stuns.map((s) => \`127.0.0.1:\${s.port}\`)
const socket = await bindUdp()
const createSocket = () => bindUdp()
const secret = new Uint8Array(randomBytes(32))
const progress: string[] = []
const useRelay = (p: unknown) => console.log('relay needed for', p)
// The other peer punches towards us at the same time, as it would after reading our announcement.
const otherSocket = await bindUdp()
const other = createOtherPuncher({ socket: otherSocket, stunServers })
await other.start()
const otherSide = other
  .punch({ secret, remote: { nat: 'open', addresses: [{ host: '127.0.0.1', port: socket.port }] } })
  .catch((err: unknown) => err)
const peer = {
  nat: 'open' as const,
  addresses: [{ host: '127.0.0.1', port: otherSocket.port, kind: 'public' as const }],
}
`,
    after: `
await otherSide
await other.stop()
for (const s of [socket, otherSocket, ...stuns]) await s.close()
console.log('holepunch example:', nat.nat, progress.join(' '))
`,
  },
  // Two peers on loopback meet through an embedded broker (discovery's aedes) in this process.
  'peer-node': {
    before: `
import { mkdtempSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { createEmbeddedBroker } from '@harddrive-party/discovery'
const broker = createEmbeddedBroker()
await broker.start()
const brokerUrl = broker.url!
const aliceDir = mkdtempSync(join(tmpdir(), 'hdp-consumer-alice-'))
const bobDir = mkdtempSync(join(tmpdir(), 'hdp-consumer-bob-'))
`,
    after: `
await broker.stop()
console.log('peer-node example: connected to', peer.name)
`,
  },
  discovery: {
    before: `
import { generateKeyPairSync } from 'node:crypto'
const keys = generateKeyPairSync('ed25519')
const seed = keys.privateKey.export({ format: 'der', type: 'pkcs8' }).subarray(-32)
const pub = keys.publicKey.export({ format: 'der', type: 'spki' }).subarray(-32)
const identity = { publicKey: new Uint8Array(pub), secretKey: new Uint8Array([...seed, ...pub]) }
`,
  },
}

/** The example file for one package: fill before, README lines (with replacements), fill after. */
export function fillExample(short: string, example: string): string {
  const fill = fills[short]
  if (!fill)
    throw new Error(`no placeholder fill for ${short}: add one to test/consumer/placeholders.ts`)
  let code = example
  for (const [from, to] of fill.replace ?? []) {
    if (!code.includes(from)) throw new Error(`${short}: README no longer contains ${from}`)
    code = code.replace(from, to)
  }
  return `${fill.before ?? ''}\n// --- README ---\n${code}\n// --- end ---\n${fill.after ?? ''}`
}
