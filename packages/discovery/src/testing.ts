/**
 * Real helpers for tests of discovery and of its users (peer-node): identities, fast topic keys,
 * a mosquitto broker as a child process, waiting for a peer, and the compliance suite every
 * `Discovery` implementation runs. Node only; imports vitest.
 */
export type { ComplianceHarness, CompliancePeer } from './discovery-compliance'
export { discoveryCompliance } from './discovery-compliance'
export type { Mosquitto, MosquittoOptions } from './mosquitto'
export { freeTcpPort, startMosquitto } from './mosquitto'
// The MQTT topic layout, for tests that play a hostile client against the broker.
export { announceTopic, MQTT_TOPIC_ROOT, topicFilter } from './mqtt-topic'
export {
  byKey,
  createTestIdentity,
  TEST_KDF,
  testTopicKeys,
  waitForGone,
  waitForPeer,
} from './test-peers'
