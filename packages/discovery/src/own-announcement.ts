import {
  type Announcement,
  openAnnouncement,
  sealAnnouncement,
  type TopicKeys,
} from '@harddrive-party/wire-protocol'
import type { AnnouncementInput, Identity } from './discovery'
import { DiscoveryError } from './errors'
import { seedOf } from './identity'

/**
 * Our announcement for one topic, freshly timestamped, signed and sealed. Throws a typed
 * `BAD_ANNOUNCEMENT` when `getAnnouncement` throws or gives fields no receiver would accept.
 */
export function sealOwnAnnouncement(
  identity: Identity,
  getAnnouncement: () => AnnouncementInput,
  topic: TopicKeys,
): Uint8Array {
  let input: AnnouncementInput
  try {
    input = getAnnouncement()
  } catch (cause) {
    throw new DiscoveryError('BAD_ANNOUNCEMENT', 'getAnnouncement() threw', { cause })
  }
  const announcement: Announcement = {
    key: identity.publicKey,
    addresses: input?.addresses,
    nat: input?.nat,
    timestamp: Date.now(),
    nonce: crypto.getRandomValues(new Uint8Array(16)),
  }
  if (input?.portAllocation !== undefined) announcement.portAllocation = input.portAllocation
  if (input?.relay === true) announcement.relay = true
  if (input?.relayed !== undefined) announcement.relayed = input.relayed
  try {
    const sealed = sealAnnouncement(announcement, topic, seedOf(identity))
    // Opening our own payload runs the same field checks every receiver will run.
    openAnnouncement(sealed, topic)
    return sealed
  } catch (cause) {
    throw new DiscoveryError('BAD_ANNOUNCEMENT', `our announcement is invalid: ${cause}`, {
      cause,
    })
  }
}
