/**
 * `@harddrive-party/wire-protocol/internal`: the pieces the sibling packages build the protocol
 * from (address classes, CBOR, connect requests, mDNS records, hello proofs, the dialer rule and
 * punch secret, table constants). Not covered by semver; an embedder that speaks the protocol
 * through the main entry needs none of it.
 */
export { isIPv4, isIPv6, validateHost } from './address'
export type { AddressClass } from './address-class'
export {
  ANNOUNCED_ADDRESS_CLASSES,
  checkAnnouncedAddress,
  classifyAddress,
} from './address-class'
export {
  ADDRESS_KINDS,
  ANNOUNCEMENT_FORMAT,
  announcementFromWire,
  NAT_TYPES,
  PORT_ALLOCATIONS,
} from './announcement'
export { decodeCbor, encodeCbor } from './cbor'
export { hasControlChar } from './check'
export { compareKeys, derivePunchSecret, isDialer } from './connect'
export type { ConnectRequest } from './connect-request'
export {
  CONNECT_REQUEST_FORMAT,
  connectInbox,
  openConnectRequest,
  sealConnectRequest,
} from './connect-request'
export type { MdnsEndpoint, MdnsRecord } from './mdns-record'
export {
  createMdnsCapability,
  decodeMdnsRecord,
  encodeMdnsRecord,
  MAX_MDNS_CAPABILITIES,
  MDNS_CAPABILITY_BYTES,
  MDNS_SERVICE_TYPE,
  matchMdnsCapabilities,
  validateMdnsEndpoint,
} from './mdns-record'
export { lsLimit } from './peer-messages'
export type { HelloProofInput, HelloRole } from './topic'
export { createHelloProof, equalBytes, TOPIC_KDF, verifyHelloProof } from './topic'
export { ALPN } from './version'
