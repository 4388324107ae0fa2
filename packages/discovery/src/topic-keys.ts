import type { TopicKeys } from '@harddrive-party/wire-protocol'

/** Rejects something that is not `deriveTopicKeys()` output: a programmer error, so TypeError. */
export function assertTopicKeys(topic: TopicKeys): void {
  const ok =
    typeof topic?.publicId === 'string' &&
    /^[0-9a-f]{64}$/.test(topic.publicId) &&
    topic.sealKey instanceof Uint8Array &&
    topic.sealKey.length === 32 &&
    topic.mdnsKey instanceof Uint8Array &&
    topic.mdnsKey.length === 32
  if (!ok) throw new TypeError('join/leave take TopicKeys from deriveTopicKeys()')
}
