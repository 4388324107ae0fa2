import { readFileSync } from 'node:fs'
import { join } from 'node:path'
import {
  decodeApiRequest,
  decodeApiServerMessage,
  decodeCbor,
  decodeHello,
  decodeIncomingRequest,
  decodeLsResponse,
  decodeMdnsRecord,
  decodePeerRequest,
  decodeReadResponse,
  decodeWatchResponse,
  FrameDecoder,
  openAnnouncement,
  sealAnnouncement,
  type TopicKeys,
  validateSharePath,
} from '@harddrive-party/wire-protocol'
import { ed25519 } from '@noble/curves/ed25519.js'

/** Every decoder of untrusted bytes, as a function of bytes. Shared by the property test and the fuzz script. */
export function byteDecoders(
  topic: Pick<TopicKeys, 'publicId' | 'sealKey'>,
): Record<string, (b: Uint8Array) => unknown> {
  return {
    cbor: decodeCbor,
    hello: decodeHello,
    peerRequest: decodePeerRequest,
    lsResponse: decodeLsResponse,
    readResponse: decodeReadResponse,
    incomingRequest: decodeIncomingRequest,
    watchResponse: decodeWatchResponse,
    apiRequest: decodeApiRequest,
    apiServerMessage: decodeApiServerMessage,
    announcement: (b) => openAnnouncement(b, topic),
    frames: (b) => {
      const d = new FrameDecoder({ maxFrameBytes: 4096 })
      d.push(b)
      const out = []
      for (let f = d.nextFrame(); f; f = d.nextFrame()) out.push(decodePeerRequest(f))
      return out
    },
    mdnsRecord: (b) => decodeMdnsRecord(new TextDecoder().decode(b).split('\n')),
    sharePath: (b) => validateSharePath(new TextDecoder().decode(b)),
  }
}

/** Valid messages to mutate: every vector of docs/protocol/vectors.json and a sealed announcement. */
export function validSamples(topic: Pick<TopicKeys, 'publicId' | 'sealKey'>): Uint8Array[] {
  const vectors: { valid: { hex: string }[] } = JSON.parse(
    readFileSync(join(import.meta.dirname, '../../../docs/protocol/vectors.json'), 'utf8'),
  )
  const seed = ed25519.utils.randomSecretKey()
  const announcement = {
    key: ed25519.getPublicKey(seed),
    addresses: [{ host: '10.1.2.3', port: 9, kind: 'lan' as const }],
    nat: 'easy' as const,
    timestamp: 1,
    nonce: new Uint8Array(16),
  }
  return [
    ...vectors.valid.map((v) => new Uint8Array(Buffer.from(v.hex, 'hex'))),
    sealAnnouncement(announcement, topic, seed),
  ]
}

/** Message-type words and path-ish strings that hostile CBOR values are built from. */
export const HOSTILE_WORDS = [
  'hello',
  'ls',
  'read',
  'entries',
  'end',
  'error',
  'header',
  'queued',
  'watch',
  'shares-changed',
  'result',
  'event',
  'transfer',
  'join',
  'download',
  '../x',
  '',
  'a/b',
]

/** Map keys of our messages, plus prototype-polluting ones, for hostile CBOR maps. */
export const HOSTILE_KEYS = [
  'type',
  'version',
  'proof',
  'path',
  'recursive',
  'search',
  'cursor',
  'limit',
  'offset',
  'length',
  'expect',
  'size',
  'mtime',
  'entries',
  'dir',
  'files',
  'code',
  'message',
  'position',
  'version',
  'id',
  'command',
  'topic',
  'peer',
  'event',
  'data',
  'state',
  'body',
  'sig',
  '__proto__',
  'constructor',
  'x',
]
