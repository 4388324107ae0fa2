import { HdpError, isHdpError } from '@harddrive-party/wire-protocol'

export type DiscoveryErrorCode =
  /** An option is missing or out of range (broker URL, interface address, identity, port). */
  | 'INVALID_OPTIONS'
  /** Joining one more topic would pass `maxTopics`. */
  | 'TOO_MANY_TOPICS'
  /** `getAnnouncement()` threw, or returned something that cannot be signed and sealed. */
  | 'BAD_ANNOUNCEMENT'
  /** The mDNS socket could not bind or join the multicast group on the interface. */
  | 'MDNS_BIND_FAILED'
  /** The embedded MQTT broker could not listen on its address. */
  | 'BROKER_LISTEN_FAILED'

/** The one error class of `@harddrive-party/discovery`. Branch on `code`. */
export class DiscoveryError extends HdpError<DiscoveryErrorCode> {
  override name = 'DiscoveryError'
}

export function isDiscoveryError(err: unknown): err is DiscoveryError {
  return isHdpError(err, 'DiscoveryError')
}
