import { WireError } from './errors'

/** Major version: a peer refuses any other. Minor versions only add optional fields. */
export const PROTOCOL_MAJOR = 1
/**
 * 1.1 added `read-many` (docs/protocol.md §7.6); a 1.0 peer is sent per-file `read`s. 1.2 added
 * the transport's bulk lane on UDX (docs/protocol.md §4); older peers get one lane.
 */
export const PROTOCOL_MINOR = 2
export type ProtocolVersion = readonly [major: number, minor: number]
export const PROTOCOL_VERSION: ProtocolVersion = [PROTOCOL_MAJOR, PROTOCOL_MINOR]

/** ALPN protocol id for a QUIC transport carrying this protocol. */
export const ALPN = 'harddrive-party/1'

/** Throws `UNSUPPORTED_VERSION` unless `version` has our major number. */
export function checkVersion(version: ProtocolVersion): void {
  if (version[0] !== PROTOCOL_MAJOR) {
    throw new WireError(
      'UNSUPPORTED_VERSION',
      `peer speaks protocol ${version[0]}.${version[1]}; we speak ${PROTOCOL_MAJOR}.x`,
    )
  }
}
