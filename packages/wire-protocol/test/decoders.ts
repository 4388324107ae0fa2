import { readFileSync } from 'node:fs'
import { join } from 'node:path'
import {
  decodeApiRequest,
  decodeApiServerMessage,
  decodeHello,
  decodeIncomingRequest,
  decodeLsResponse,
  decodePeerRequest,
  decodeReadResponse,
  decodeWatchResponse,
  FrameDecoder,
  openAnnouncement,
  sealAnnouncement,
  type TopicKeys,
  validateSharePath,
} from '@harddrive-party/wire-protocol'
import { decodeCbor, decodeMdnsRecord } from '@harddrive-party/wire-protocol/internal'
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
  'uploads',
  'set-limits',
  'upload',
  'cancelled',
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
  'uploadSlots',
  'uploadBytesPerSecond',
  'peerName',
  'body',
  'sig',
  '__proto__',
  'constructor',
  'x',
]

/** xorshift32: fast and reproducible from its seed. */
export function createRng(seed: number): { rand: () => number; int: (n: number) => number } {
  let state = seed >>> 0 || 1
  const rand = () => {
    state ^= state << 13
    state ^= state >>> 17
    state ^= state << 5
    return (state >>> 0) / 4294967296
  }
  return { rand, int: (n) => Math.floor(rand() * n) }
}

/**
 * CBOR our protocol never sends, built around a valid message (issue 9.3): a tag (mostly a tag-2/3
 * bignum, sometimes 128 KiB of it), an indefinite-length item, nesting past the depth limit, or a
 * length that overruns the input. It goes into an extra map field of the message, so everything
 * around it is well-formed, or is spliced in at a random byte.
 */
export function hostileCbor(base: Uint8Array, int: (n: number) => number): Uint8Array {
  const fragment = hostileFragment(int)
  // A map of 0..22 entries has a one-byte head: add one entry, `x` => fragment.
  if (base[0] !== undefined && base[0] >= 0xa0 && base[0] < 0xb7 && int(4) !== 0) {
    const out = new Uint8Array(base.length + 2 + fragment.length)
    out.set(base)
    out[0] = base[0] + 1
    out.set([0x61, 0x78], base.length)
    out.set(fragment, base.length + 2)
    return out
  }
  const at = int(base.length + 1)
  const out = new Uint8Array(base.length + fragment.length)
  out.set(base.subarray(0, at))
  out.set(fragment, at)
  out.set(base.subarray(at), at + fragment.length)
  return out
}

function hostileFragment(int: (n: number) => number): Uint8Array {
  switch (int(5)) {
    case 0: {
      // Bignum: tag 2 or 3, then a byte string; one in 500 is 128 KiB (2.3 s in cbor-x alone).
      const n = int(500) === 0 ? 128 * 1024 : int(600)
      const out = new Uint8Array(6 + n).fill(0xab)
      out[0] = 0xc2 + int(2)
      out[1] = 0x5a
      new DataView(out.buffer).setUint32(2, n)
      return out
    }
    case 1: // any tag number, one to nine head bytes, then an integer
      return new Uint8Array([0xc0 + int(28), int(256), int(256), 0x01])
    case 2: {
      // Indefinite string, array or map, with a chunk or item and usually its break.
      const head = [0x5f, 0x7f, 0x9f, 0xbf][int(4)]!
      const chunk = head === 0x5f ? [0x41, 0x00] : head === 0x7f ? [0x61, 0x61] : [0x01, 0x01]
      return new Uint8Array(int(4) === 0 ? [head, ...chunk] : [head, ...chunk, 0xff])
    }
    case 3: {
      // Nesting around the depth limit and far past it: arrays of one item, or maps {x: ...}.
      const levels = int(4) === 0 ? 10_000 : 10 + int(20)
      const step = int(2) === 0 ? [0x81] : [0xa1, 0x61, 0x78]
      const out = new Uint8Array(levels * step.length + 1)
      for (let i = 0; i < levels; i++) out.set(step, i * step.length)
      return out
    }
    default: {
      // A string, array or map whose declared length overruns the input.
      const out = new Uint8Array([[0x5a, 0x7a, 0x9a, 0xba][int(4)]!, 0, 0, 0, 0, 0x01])
      new DataView(out.buffer).setUint32(1, 1 + int(2 ** 31))
      return out
    }
  }
}
