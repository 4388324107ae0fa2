// The README's usage example, line for line, against the real package.
import {
  decodePeerRequest,
  deriveTopicKeys,
  encodeFrame,
  encodePeerMessage,
  FrameDecoder,
  isWireError,
  openAnnouncement,
  sealAnnouncement,
} from '@harddrive-party/wire-protocol'
import { ed25519 } from '@noble/curves/ed25519.js'
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

  const seed = ed25519.utils.randomSecretKey()
  const topic = await deriveTopicKeys('movie night')
  const announcement = {
    key: ed25519.getPublicKey(seed),
    addresses: [{ host: '192.168.1.20', port: 47000, kind: 'lan' as const }],
    nat: 'easy' as const,
    timestamp: Date.now(),
    nonce: crypto.getRandomValues(new Uint8Array(16)),
  }
  const sealed = sealAnnouncement(announcement, topic, seed)
  const verified = openAnnouncement(sealed, topic)
  expect(verified).toEqual(announcement)
})
