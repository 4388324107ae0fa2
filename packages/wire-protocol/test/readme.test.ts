// The README's usage example, line for line, against the real package.
import {
  decodePeerRequest,
  deriveTopicKeys,
  encodeFrame,
  encodePeerMessage,
  FrameDecoder,
  isWireError,
  openAnnouncement,
  publicKeyFromSeed,
  sealAnnouncement,
} from '@harddrive-party/wire-protocol'
import { expect, it } from 'vitest'

it('README example', async () => {
  const decoder = new FrameDecoder()
  decoder.push(encodeFrame(encodePeerMessage({ type: 'ls', path: 'music', recursive: false })))
  const request = decodePeerRequest(decoder.nextFrame()!)
  expect(request).toEqual({ type: 'ls', path: 'music', recursive: false })

  decoder.push(
    encodeFrame(encodePeerMessage({ type: 'read', path: 'music/../../etc/passwd', offset: 0 })),
  )
  let code = ''
  try {
    decodePeerRequest(decoder.nextFrame()!)
  } catch (err) {
    if (isWireError(err)) code = err.code
  }
  expect(code).toBe('BAD_PATH')

  const seed = crypto.getRandomValues(new Uint8Array(32))
  const topic = await deriveTopicKeys('movie night')
  const announcement = {
    key: publicKeyFromSeed(seed),
    addresses: [{ host: '192.168.1.20', port: 47000, kind: 'lan' as const }],
    nat: 'easy' as const,
    timestamp: Date.now(),
    nonce: crypto.getRandomValues(new Uint8Array(16)),
  }
  const sealed = sealAnnouncement(announcement, topic, seed)
  const verified = openAnnouncement(sealed, topic)
  expect(verified).toEqual(announcement)
})

it('publicKeyFromSeed refuses a seed that is not 32 bytes', () => {
  expect(() => publicKeyFromSeed(new Uint8Array(31))).toThrow(TypeError)
  expect(publicKeyFromSeed(new Uint8Array(32))).toHaveLength(32)
})
