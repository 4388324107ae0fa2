import {
  decodeApiRequest,
  decodeApiServerMessage,
  decodeCbor,
  decodeHello,
  decodeLsResponse,
  decodeMdnsRecord,
  decodePeerRequest,
  decodeReadResponse,
  FrameDecoder,
  openAnnouncement,
  type TopicKeys,
  validateSharePath,
} from '@harddrive-party/wire-protocol'

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
