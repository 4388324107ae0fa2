import { readFileSync } from 'node:fs'
import { join } from 'node:path'
import {
  deriveTopicKeys,
  encodeFrame,
  isWireError,
  openAnnouncement,
  sealAnnouncement,
} from '@harddrive-party/wire-protocol'
import {
  createHelloProof,
  createMdnsCapability,
  decodeMdnsRecord,
  matchMdnsCapabilities,
} from '@harddrive-party/wire-protocol/internal'
import { describe, expect, it } from 'vitest'
import { type CodecName, codecs, fromJson } from './vector-codec'

interface Vectors {
  valid: { name: string; codec: CodecName; value: unknown; hex: string }[]
  invalid: { name: string; codec: CodecName; hex: string; error: string }[]
  frame: { payloadHex: string; frameHex: string }
  topic: { name: string; publicId: string; sealKey: string; proofKey: string; mdnsKey: string }
  announcement: {
    seed: string
    publicKey: string
    value: unknown
    sealNonce: string
    sealed: string
  }
  helloProof: { input: unknown; proof: string }
  mdns: { endpoint: unknown; capability: string; txt: string[] }
}

const vectors: Vectors = JSON.parse(
  readFileSync(join(import.meta.dirname, '../../../docs/protocol/vectors.json'), 'utf8'),
)
const bytes = (hex: string) => new Uint8Array(Buffer.from(hex, 'hex'))
const hex = (b: Uint8Array) => Buffer.from(b).toString('hex')

describe('protocol vectors (docs/protocol/vectors.json)', () => {
  it('has a vector for every message kind', () => {
    const kinds = new Set(
      vectors.valid.map(
        (v) =>
          `${v.codec}:${(v.value as { type?: string }).type ?? (v.value as { command: { type: string } }).command.type}`,
      ),
    )
    for (const k of [
      'hello:hello',
      'peer-request:ls',
      'peer-request:read',
      'ls-response:entries',
      'ls-response:end',
      'ls-response:error',
      'read-response:header',
      'read-response:queued',
      'read-response:error',
      'incoming-request:watch',
      'incoming-request:read-many',
      'read-many-response:file',
      'read-many-response:file-error',
      'read-many-response:queued',
      'read-many-response:error',
      'watch-response:shares-changed',
      'watch-response:error',
      'relay-request:relay',
      'relay-request:relayed',
      'relay-response:relay-ok',
      'relay-response:error',
      'api-request:join',
      'api-request:uploads',
      'api-request:set-limits',
      'api-server-message:result',
      'api-server-message:error',
      'api-server-message:event',
    ]) {
      expect(kinds).toContain(k)
    }
  })

  for (const v of vectors.valid) {
    it(`decodes and encodes "${v.name}"`, () => {
      const codec = codecs[v.codec]
      expect(codec.decode(bytes(v.hex))).toEqual(fromJson(v.value))
      expect(hex(codec.encode(fromJson(v.value) as never))).toBe(v.hex)
    })
  }

  for (const v of vectors.invalid) {
    it(`refuses "${v.name}" with ${v.error}`, () => {
      let caught: unknown
      try {
        codecs[v.codec].decode(bytes(v.hex))
      } catch (err) {
        caught = err
      }
      expect(isWireError(caught)).toBe(true)
      expect((caught as { code: string }).code).toBe(v.error)
    })
  }

  it('frames a payload', () => {
    expect(hex(encodeFrame(bytes(vectors.frame.payloadHex)))).toBe(vectors.frame.frameHex)
  })

  it('derives the topic keys, seals and opens the announcement, proves hello and mDNS membership', async () => {
    const topic = await deriveTopicKeys(vectors.topic.name)
    expect(topic.publicId).toBe(vectors.topic.publicId)
    expect(hex(topic.sealKey)).toBe(vectors.topic.sealKey)
    expect(hex(topic.proofKey)).toBe(vectors.topic.proofKey)
    expect(hex(topic.mdnsKey)).toBe(vectors.topic.mdnsKey)

    const a = vectors.announcement
    const announcement = fromJson(a.value) as Parameters<typeof sealAnnouncement>[0]
    expect(hex(sealAnnouncement(announcement, topic, bytes(a.seed), bytes(a.sealNonce)))).toBe(
      a.sealed,
    )
    expect(openAnnouncement(bytes(a.sealed), topic)).toEqual(announcement)

    const input = fromJson(vectors.helloProof.input) as Parameters<typeof createHelloProof>[1]
    expect(hex(createHelloProof(topic, input))).toBe(vectors.helloProof.proof)

    const endpoint = fromJson(vectors.mdns.endpoint) as Parameters<typeof createMdnsCapability>[1]
    expect(hex(createMdnsCapability(topic, endpoint))).toBe(vectors.mdns.capability)
    const record = decodeMdnsRecord(vectors.mdns.txt)
    expect(
      matchMdnsCapabilities([topic], record.capabilities, { ...endpoint, key: record.key }),
    ).toEqual([topic])
  })
})
