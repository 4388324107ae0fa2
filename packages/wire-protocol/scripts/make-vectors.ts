// Writes docs/protocol/vectors.json from the message examples below. Run after a deliberate
// protocol change: `pnpm --filter @harddrive-party/wire-protocol make-vectors`. The vectors
// test then holds every implementation (this one included) to these bytes.
import { writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { deriveTopicKeys, encodeFrame, sealAnnouncement } from '@harddrive-party/wire-protocol'
import {
  createHelloProof,
  createMdnsCapability,
  encodeCbor,
  encodeMdnsRecord,
} from '@harddrive-party/wire-protocol/internal'
import { ed25519 } from '@noble/curves/ed25519.js'
import { type CodecName, codecs, toJson } from '../test/vector-codec'

const seed = new Uint8Array(32).map((_, i) => i + 1)
const key = ed25519.getPublicKey(seed)
const otherKey = new Uint8Array(32).fill(0xbb)
const hex = (b: Uint8Array) => Buffer.from(b).toString('hex')

const valid: { name: string; codec: CodecName; value: unknown }[] = [
  {
    name: 'hello',
    codec: 'hello',
    value: {
      type: 'hello',
      version: [1, 0],
      proof: new Uint8Array(32).fill(7),
      agent: 'harddrive-party-js/0.1.0',
    },
  },
  { name: 'ls root', codec: 'peer-request', value: { type: 'ls', path: '', recursive: false } },
  {
    name: 'ls paged search',
    codec: 'peer-request',
    value: {
      type: 'ls',
      path: 'music/jazz',
      search: 'coltrane',
      recursive: true,
      cursor: new Uint8Array([1, 2, 3]),
      limit: 500,
    },
  },
  {
    name: 'read whole file',
    codec: 'peer-request',
    value: { type: 'read', path: 'films/Nosferatu (1922).mkv', offset: 0 },
  },
  {
    name: 'read resume with expectation',
    codec: 'peer-request',
    value: {
      type: 'read',
      path: 'films/a.mkv',
      offset: 1048576,
      length: 4096,
      expect: { size: 5000000000, mtime: 1700000000000 },
    },
  },
  {
    name: 'entries',
    codec: 'ls-response',
    value: {
      type: 'entries',
      entries: [
        { path: 'music', size: 123456789, dir: true, files: 42 },
        { path: 'music/ü.flac', size: 31337, dir: false, mtime: 1700000000123 },
      ],
    },
  },
  {
    name: 'end with cursor',
    codec: 'ls-response',
    value: { type: 'end', cursor: new Uint8Array([9, 9]) },
  },
  { name: 'end', codec: 'ls-response', value: { type: 'end' } },
  {
    name: 'ls error',
    codec: 'ls-response',
    value: { type: 'error', code: 'NOT_FOUND', message: 'no such path: music/x' },
  },
  {
    name: 'read header',
    codec: 'read-response',
    value: {
      type: 'header',
      size: 5000000000,
      mtime: 1700000000000,
      offset: 1048576,
      length: 4096,
    },
  },
  { name: 'queued', codec: 'read-response', value: { type: 'queued', position: 3 } },
  { name: 'watch', codec: 'incoming-request', value: { type: 'watch' } },
  {
    name: 'hello 1.1',
    codec: 'hello',
    value: { type: 'hello', version: [1, 1], proof: new Uint8Array(32).fill(8) },
  },
  {
    name: 'read-many',
    codec: 'incoming-request',
    value: {
      type: 'read-many',
      files: [
        { path: 'photos/2024/a.jpg', size: 4096, mtime: 1700000000000 },
        { path: 'photos/2024/b.jpg', size: 0, mtime: 1700000000001 },
      ],
    },
  },
  {
    name: 'read-many file',
    codec: 'read-many-response',
    value: { type: 'file', index: 0, size: 4096, mtime: 1700000000000 },
  },
  {
    name: 'read-many file error',
    codec: 'read-many-response',
    value: { type: 'file-error', index: 1, code: 'CHANGED', message: 'size or mtime changed' },
  },
  { name: 'read-many queued', codec: 'read-many-response', value: { type: 'queued', position: 2 } },
  {
    name: 'read-many refused',
    codec: 'read-many-response',
    value: { type: 'error', code: 'BUSY', message: 'too many requests' },
  },
  { name: 'relay', codec: 'relay-request', value: { type: 'relay', to: otherKey } },
  { name: 'relayed', codec: 'relay-request', value: { type: 'relayed', from: key } },
  { name: 'relay accepted', codec: 'relay-response', value: { type: 'relay-ok' } },
  {
    name: 'relay refused',
    codec: 'relay-response',
    value: { type: 'error', code: 'NOT_FOUND', message: 'not connected to bbbbbbbb' },
  },
  {
    name: 'shares changed',
    codec: 'watch-response',
    value: { type: 'shares-changed', version: 1764620000123 },
  },
  {
    name: 'watch refused',
    codec: 'watch-response',
    value: { type: 'error', code: 'BUSY', message: 'too many requests' },
  },
  {
    name: 'read error changed',
    codec: 'read-response',
    value: { type: 'error', code: 'CHANGED', message: 'size or mtime changed' },
  },
  {
    name: 'api join',
    codec: 'api-request',
    value: { id: 1, command: { type: 'join', topic: 'my friends' } },
  },
  {
    name: 'api download',
    codec: 'api-request',
    value: {
      id: 4294967295,
      command: { type: 'download', peer: 'PersianChinchilla', path: 'films/a.mkv' },
    },
  },
  {
    name: 'api ls',
    codec: 'api-request',
    value: {
      id: 2,
      command: { type: 'ls', peer: hex(otherKey), path: 'music', recursive: true, limit: 100 },
    },
  },
  {
    name: 'api result',
    codec: 'api-server-message',
    value: { type: 'result', id: 2, data: { files: 3 } },
  },
  {
    name: 'api error',
    codec: 'api-server-message',
    value: { type: 'error', id: 2, code: 'PEER_UNAVAILABLE', message: 'peer is offline' },
  },
  {
    name: 'api transfer event',
    codec: 'api-server-message',
    value: {
      type: 'event',
      event: {
        type: 'transfer',
        direction: 'download',
        requestId: 'r1',
        peer: 'PersianChinchilla',
        path: 'films/a.mkv',
        bytes: 10,
        total: 100,
        bytesPerSecond: 5,
        state: 'active',
      },
    },
  },
  { name: 'api limits', codec: 'api-request', value: { id: 3, command: { type: 'limits' } } },
  { name: 'api shares', codec: 'api-request', value: { id: 5, command: { type: 'shares' } } },
  {
    name: 'api scan event',
    codec: 'api-server-message',
    value: {
      type: 'event',
      event: {
        type: 'scan',
        share: 'music',
        dirs: 3,
        files: 120,
        bytes: 734003200,
        skipped: 1,
        done: false,
      },
    },
  },
  {
    name: 'api nat event',
    codec: 'api-server-message',
    value: {
      type: 'event',
      event: {
        type: 'nat',
        nat: 'easy',
        portAllocation: 'preserving',
        publicAddress: { host: '203.0.113.7', port: 40321 },
        reason: 'two servers saw the same mapping',
      },
    },
  },
  {
    name: 'api discovery event',
    codec: 'api-server-message',
    value: {
      type: 'event',
      event: { type: 'discovery', via: 'mqtt', state: 'offline', message: 'broker unreachable' },
    },
  },
  { name: 'api uploads', codec: 'api-request', value: { id: 6, command: { type: 'uploads' } } },
  {
    name: 'api set-limits',
    codec: 'api-request',
    value: {
      id: 7,
      command: { type: 'set-limits', uploadSlots: 2, uploadBytesPerSecond: 1048576 },
    },
  },
  {
    name: 'api upload queued for a slot',
    codec: 'api-server-message',
    value: {
      type: 'event',
      event: {
        type: 'transfer',
        direction: 'upload',
        requestId: 'u7',
        peer: hex(otherKey),
        peerName: 'PersianChinchilla',
        path: 'films/a.mkv',
        bytes: 0,
        total: 734003200,
        bytesPerSecond: 0,
        state: 'queued',
        queuePosition: 2,
      },
    },
  },
  {
    name: 'api upload cancelled',
    codec: 'api-server-message',
    value: {
      type: 'event',
      event: {
        type: 'transfer',
        direction: 'upload',
        requestId: 'u8',
        peer: hex(otherKey),
        peerName: 'PersianChinchilla',
        path: 'films/a.mkv',
        bytes: 65536,
        total: 734003200,
        bytesPerSecond: 131072,
        state: 'cancelled',
        error: 'the reader closed the stream',
      },
    },
  },
]

/** Hex of `map` (CBOR, under 23 entries) with one more entry: `x` => `valueHex`. */
function withExtraField(map: Uint8Array, valueHex: string): string {
  return `${(map[0]! + 1).toString(16)}${hex(map).slice(2)}6178${valueHex.replace(/ /g, '')}`
}

// Each invalid vector is CBOR built from a plain value (or raw bytes) and the error code it must get.
const invalid: { name: string; codec: CodecName; hex: string; error: string }[] = [
  { name: 'not CBOR', codec: 'peer-request', hex: 'ff', error: 'MALFORMED' },
  {
    name: 'api discovery event with an unknown source',
    codec: 'api-server-message',
    hex: hex(
      encodeCbor({
        type: 'event',
        event: { type: 'discovery', via: 'dht', state: 'online', message: '' },
      }),
    ),
    error: 'BAD_FIELD',
  },
  {
    name: 'api scan event with a negative count',
    codec: 'api-server-message',
    hex: hex(
      encodeCbor({
        type: 'event',
        event: { type: 'scan', share: 'a', dirs: -1, files: 0, bytes: 0, skipped: 0, done: true },
      }),
    ),
    error: 'BAD_FIELD',
  },
  {
    name: 'api set-limits with no limit',
    codec: 'api-request',
    hex: hex(encodeCbor({ id: 1, command: { type: 'set-limits' } })),
    error: 'BAD_FIELD',
  },
  {
    name: 'api set-limits with zero upload slots',
    codec: 'api-request',
    hex: hex(encodeCbor({ id: 1, command: { type: 'set-limits', uploadSlots: 0 } })),
    error: 'BAD_FIELD',
  },
  {
    name: 'api set-limits with an unknown limit',
    codec: 'api-request',
    hex: hex(encodeCbor({ id: 1, command: { type: 'set-limits', uploadslots: 2 } })),
    error: 'BAD_FIELD',
  },
  {
    name: 'api transfer event with an unknown state',
    codec: 'api-server-message',
    hex: hex(
      encodeCbor({
        type: 'event',
        event: {
          type: 'transfer',
          direction: 'upload',
          requestId: 'u1',
          peer: 'p',
          path: 'a',
          bytes: 0,
          total: 0,
          bytesPerSecond: 0,
          state: 'stolen',
        },
      }),
    ),
    error: 'BAD_FIELD',
  },
  {
    name: 'truncated CBOR',
    codec: 'peer-request',
    hex: hex(encodeCbor({ type: 'ls', path: 'a', recursive: false })).slice(0, 10),
    error: 'MALFORMED',
  },
  {
    name: 'trailing bytes',
    codec: 'peer-request',
    hex: `${hex(encodeCbor({ type: 'ls', path: 'a', recursive: false }))}00`,
    error: 'MALFORMED',
  },
  { name: 'not a map', codec: 'peer-request', hex: hex(encodeCbor([1, 2])), error: 'BAD_FIELD' },
  {
    name: 'unknown request type',
    codec: 'peer-request',
    hex: hex(encodeCbor({ type: 'rm', path: 'a' })),
    error: 'UNKNOWN_MESSAGE',
  },
  {
    name: 'dot-dot path',
    codec: 'peer-request',
    hex: hex(encodeCbor({ type: 'read', path: 'music/../../etc/passwd', offset: 0 })),
    error: 'BAD_PATH',
  },
  {
    name: 'absolute path',
    codec: 'peer-request',
    hex: hex(encodeCbor({ type: 'read', path: '/etc/passwd', offset: 0 })),
    error: 'BAD_PATH',
  },
  {
    name: 'backslash path',
    codec: 'peer-request',
    hex: hex(encodeCbor({ type: 'ls', path: 'a\\..\\b', recursive: false })),
    error: 'BAD_PATH',
  },
  {
    name: 'NUL in path',
    codec: 'peer-request',
    hex: hex(encodeCbor({ type: 'ls', path: 'a\u0000b', recursive: false })),
    error: 'BAD_PATH',
  },
  {
    name: 'negative offset',
    codec: 'peer-request',
    hex: hex(encodeCbor({ type: 'read', path: 'a', offset: -1 })),
    error: 'BAD_FIELD',
  },
  {
    name: 'fractional offset',
    codec: 'peer-request',
    hex: hex(encodeCbor({ type: 'read', path: 'a', offset: 1.5 })),
    error: 'BAD_FIELD',
  },
  {
    name: 'limit too large',
    codec: 'peer-request',
    hex: hex(encodeCbor({ type: 'ls', path: '', recursive: false, limit: 10001 })),
    error: 'BAD_FIELD',
  },
  {
    name: 'unknown major version',
    codec: 'hello',
    hex: hex(encodeCbor({ type: 'hello', version: [2, 0], proof: new Uint8Array(32) })),
    error: 'UNSUPPORTED_VERSION',
  },
  {
    name: 'short proof',
    codec: 'hello',
    hex: hex(encodeCbor({ type: 'hello', version: [1, 0], proof: new Uint8Array(31) })),
    error: 'BAD_FIELD',
  },
  {
    name: 'shares-changed without version',
    codec: 'watch-response',
    hex: hex(encodeCbor({ type: 'shares-changed' })),
    error: 'BAD_FIELD',
  },
  {
    name: 'shares-changed negative version',
    codec: 'watch-response',
    hex: hex(encodeCbor({ type: 'shares-changed', version: -1 })),
    error: 'BAD_FIELD',
  },
  {
    name: 'watch answered with a read header',
    codec: 'watch-response',
    hex: hex(encodeCbor({ type: 'header', size: 1, mtime: 0, offset: 0, length: 1 })),
    error: 'UNKNOWN_MESSAGE',
  },
  {
    name: 'relay to a short key',
    codec: 'relay-request',
    hex: hex(encodeCbor({ type: 'relay', to: new Uint8Array(31) })),
    error: 'BAD_FIELD',
  },
  {
    name: 'relayed without from',
    codec: 'relay-request',
    hex: hex(encodeCbor({ type: 'relayed' })),
    error: 'BAD_FIELD',
  },
  {
    name: 'relay answered with a read header',
    codec: 'relay-response',
    hex: hex(encodeCbor({ type: 'header', size: 1, mtime: 0, offset: 0, length: 1 })),
    error: 'UNKNOWN_MESSAGE',
  },
  {
    name: 'incoming request of unknown type',
    codec: 'incoming-request',
    hex: hex(encodeCbor({ type: 'unwatch' })),
    error: 'UNKNOWN_MESSAGE',
  },
  {
    name: 'read-many of 65 files',
    codec: 'incoming-request',
    hex: hex(encodeCbor({ type: 'read-many', files: manyFiles(65, 1) })),
    error: 'BAD_FIELD',
  },
  {
    name: 'read-many of no file',
    codec: 'incoming-request',
    hex: hex(encodeCbor({ type: 'read-many', files: [] })),
    error: 'BAD_FIELD',
  },
  {
    name: 'read-many file over 64 KiB',
    codec: 'incoming-request',
    hex: hex(encodeCbor({ type: 'read-many', files: [{ path: 'a/b', size: 65537, mtime: 1 }] })),
    error: 'BAD_FIELD',
  },
  {
    name: 'read-many over 1 MiB in all',
    codec: 'incoming-request',
    hex: hex(encodeCbor({ type: 'read-many', files: manyFiles(17, 65536) })),
    error: 'BAD_FIELD',
  },
  {
    name: 'read-many paths over 32 KiB in all',
    codec: 'incoming-request',
    hex: hex(
      encodeCbor({
        type: 'read-many',
        files: manyFiles(9, 1).map((f, i) => ({
          ...f,
          path: `s/${Array(20).fill('x'.repeat(199)).join('/')}${i}`,
        })),
      }),
    ),
    error: 'BAD_FIELD',
  },
  {
    name: 'read-many traversal',
    codec: 'incoming-request',
    hex: hex(encodeCbor({ type: 'read-many', files: [{ path: 'a/../../x', size: 1, mtime: 1 }] })),
    error: 'BAD_PATH',
  },
  {
    name: 'read-many of the root',
    codec: 'incoming-request',
    hex: hex(encodeCbor({ type: 'read-many', files: [{ path: '', size: 1, mtime: 1 }] })),
    error: 'BAD_PATH',
  },
  {
    name: 'read-many file without mtime',
    codec: 'incoming-request',
    hex: hex(encodeCbor({ type: 'read-many', files: [{ path: 'a/b', size: 1 }] })),
    error: 'BAD_FIELD',
  },
  {
    name: 'read-many file nested 17 deep',
    codec: 'incoming-request',
    hex: withExtraField(
      encodeCbor({ type: 'read-many', files: manyFiles(1, 1) }),
      `${'81'.repeat(16)}00`,
    ),
    error: 'CBOR_TOO_DEEP',
  },
  {
    name: 'read-many file index beyond the limit',
    codec: 'read-many-response',
    hex: hex(encodeCbor({ type: 'file', index: 64, size: 1, mtime: 1 })),
    error: 'BAD_FIELD',
  },
  {
    name: 'read-many file over 64 KiB',
    codec: 'read-many-response',
    hex: hex(encodeCbor({ type: 'file', index: 0, size: 65537, mtime: 1 })),
    error: 'BAD_FIELD',
  },
  {
    name: 'read-many answered with a read header',
    codec: 'read-many-response',
    hex: hex(encodeCbor({ type: 'header', size: 1, mtime: 0, offset: 0, length: 1 })),
    error: 'UNKNOWN_MESSAGE',
  },
  {
    name: 'header longer than file',
    codec: 'read-response',
    hex: hex(encodeCbor({ type: 'header', size: 10, mtime: 0, offset: 8, length: 3 })),
    error: 'BAD_FIELD',
  },
  {
    name: 'entry escapes',
    codec: 'ls-response',
    hex: hex(encodeCbor({ type: 'entries', entries: [{ path: '../x', size: 1, dir: false }] })),
    error: 'BAD_PATH',
  },
  // Issue 9.3: CBOR the protocol never sends is refused before any value is built from it.
  {
    name: 'tag 2 bignum in an unknown field',
    codec: 'peer-request',
    hex: withExtraField(
      encodeCbor({ type: 'ls', path: '', recursive: false }),
      'c2 48 0102030405060708',
    ),
    error: 'CBOR_TAG',
  },
  {
    name: 'tag 1 epoch time as a field value',
    codec: 'peer-request',
    hex: withExtraField(encodeCbor({ type: 'read', path: 'a', offset: 0 }), 'c1 1a 6553f100'),
    error: 'CBOR_TAG',
  },
  {
    name: 'indefinite-length text string',
    codec: 'peer-request',
    hex: withExtraField(
      encodeCbor({ type: 'ls', path: '', recursive: false }),
      '7f 61 61 61 62 ff',
    ),
    error: 'CBOR_INDEFINITE',
  },
  {
    name: 'indefinite-length map',
    codec: 'hello',
    hex: `bf${hex(encodeCbor({ type: 'hello' })).slice(2)}ff`,
    error: 'CBOR_INDEFINITE',
  },
  {
    name: 'arrays nested 17 deep',
    codec: 'api-request',
    hex: withExtraField(encodeCbor({ id: 1, command: { type: 'info' } }), `${'81'.repeat(16)}00`),
    error: 'CBOR_TOO_DEEP',
  },
  {
    name: 'byte string longer than the input',
    codec: 'ls-response',
    hex: withExtraField(encodeCbor({ type: 'end' }), '5a 7fffffff 00'),
    error: 'MALFORMED',
  },
  {
    name: 'array count larger than the input',
    codec: 'read-response',
    hex: withExtraField(encodeCbor({ type: 'queued', position: 1 }), '9a 00100000 00'),
    error: 'MALFORMED',
  },
  {
    name: 'api unknown command',
    codec: 'api-request',
    hex: hex(encodeCbor({ id: 1, command: { type: 'format-disk' } })),
    error: 'UNKNOWN_MESSAGE',
  },
]

/** `n` files of `size` bytes for the read-many vectors. */
function manyFiles(n: number, size: number) {
  return Array.from({ length: n }, (_, i) => ({ path: `s/f${i}`, size, mtime: 1 }))
}

const topic = await deriveTopicKeys('harddrive-party test vectors')
const announcement = {
  key,
  addresses: [
    { host: '192.168.1.20', port: 47000, kind: 'lan' as const, tcp: true },
    { host: '203.0.113.7', port: 47000, kind: 'public' as const },
  ],
  nat: 'easy' as const,
  portAllocation: 'preserving' as const,
  timestamp: 1700000000000,
  nonce: new Uint8Array(16).fill(0x11),
}
const sealNonce = new Uint8Array(24).fill(0x22)
const endpoint = { key, host: '192.168.1.20', port: 47000 }
const helloInput = {
  role: 'dialer' as const,
  dialerKey: key,
  acceptorKey: otherKey,
  binding: new Uint8Array(32).fill(3),
}

const out = {
  description:
    'Test vectors for docs/protocol.md. Byte strings are hex; in values, {"$bytes": hex} is a CBOR byte string. ' +
    'Every "valid" entry must decode from hex to value and encode from value to hex; every "invalid" entry must be refused with the error code given.',
  valid: valid.map((v) => ({
    name: v.name,
    codec: v.codec,
    value: toJson(v.value),
    hex: hex(codecs[v.codec].encode(v.value as never)),
  })),
  invalid,
  frame: { payloadHex: 'a0', frameHex: hex(encodeFrame(new Uint8Array([0xa0]))) },
  topic: {
    name: topic.name,
    kdf: 'scrypt(N=65536, r=8, p=1, salt="harddrive-party/1 topic", dkLen=32) then HKDF-SHA256 without salt, info "harddrive-party/1 <label>"',
    publicId: topic.publicId,
    sealKey: hex(topic.sealKey),
    proofKey: hex(topic.proofKey),
    mdnsKey: hex(topic.mdnsKey),
  },
  announcement: {
    seed: hex(seed),
    publicKey: hex(key),
    value: toJson(announcement),
    sealNonce: hex(sealNonce),
    sealed: hex(sealAnnouncement(announcement, topic, seed, sealNonce)),
  },
  helloProof: {
    input: toJson(helloInput),
    proof: hex(createHelloProof(topic, helloInput)),
  },
  mdns: {
    endpoint: toJson(endpoint),
    capability: hex(createMdnsCapability(topic, endpoint)),
    txt: encodeMdnsRecord({
      version: 1,
      key,
      capabilities: [createMdnsCapability(topic, endpoint)],
    }),
  },
}
const file = join(import.meta.dirname, '../../../docs/protocol/vectors.json')
writeFileSync(file, `${JSON.stringify(out, null, 2)}\n`)
console.log(`wrote ${out.valid.length} valid and ${out.invalid.length} invalid vectors to ${file}`)
