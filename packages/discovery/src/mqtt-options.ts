import type { CreateLogger } from '@harddrive-party/wire-protocol'
import type { IClientOptions } from 'mqtt'
import type { BackoffOptions } from './backoff'
import type { AnnouncementInput, Identity } from './discovery'
import type { EmbeddedBrokerOptions } from './embedded-broker'
import { DiscoveryError } from './errors'
import { validateIdentity } from './identity'
import { positive } from './option-checks'

/** The public broker the original used. Unreachable offline: discovery keeps retrying. */
export const DEFAULT_BROKER_URL = 'mqtt://broker.hivemq.com:1883'

export interface MqttDiscoveryOptions {
  identity: Identity
  /** Called for every (re-)publish: our current addresses and NAT type. */
  getAnnouncement: () => AnnouncementInput
  /**
   * `mqtt://`, `mqtts://`, `ws://` or `wss://`. Default: the embedded broker when
   * `embeddedBroker` is set, else {@link DEFAULT_BROKER_URL}.
   */
  brokerUrl?: string
  /** 4 = MQTT 3.1.1, 5 = MQTT 5. Default 4. */
  protocolVersion?: 4 | 5
  /** Run an aedes broker in this process for friends (`true` = 127.0.0.1, free port). */
  embeddedBroker?: EmbeddedBrokerOptions | boolean
  /** Re-publish period (each topic gets ±20% jitter). Default 60_000. */
  announceIntervalMs?: number
  /** Oldest announcement accepted, and how long a silent peer stays known. Default 300_000. */
  maxAnnouncementAgeMs?: number
  /** How far in the future a timestamp may be. Default 60_000. */
  maxClockSkewMs?: number
  /** MQTT keep-alive; a vanished peer's last will fires after 1.5× this. Default 30. */
  keepaliveSeconds?: number
  /** Default 10_000. */
  connectTimeoutMs?: number
  /** Reconnect backoff. Default 1 s doubling to 60 s, with jitter. */
  reconnect?: BackoffOptions
  /** Default 32. */
  maxTopics?: number
  /** Default 256. */
  maxPeersPerTopic?: number
  /** TLS trust and credentials. Credentials are sent on every topic's connection and link them. */
  clientOptions?: Pick<
    IClientOptions,
    'username' | 'password' | 'ca' | 'cert' | 'key' | 'rejectUnauthorized' | 'servername'
  >
  logger?: CreateLogger
}

/** {@link MqttDiscoveryOptions} checked, with every default filled in (but the broker's). */
export interface MqttSettings {
  identity: Identity
  getAnnouncement: () => AnnouncementInput
  /** As given; the default depends on the embedded broker. */
  brokerUrl: string | undefined
  protocolVersion: 4 | 5
  announceIntervalMs: number
  maxAnnouncementAgeMs: number
  maxClockSkewMs: number
  keepaliveSeconds: number
  connectTimeoutMs: number
  reconnect: BackoffOptions
  maxTopics: number
  maxPeersPerTopic: number
  clientOptions: IClientOptions
}

const BROKER_SCHEMES = new Set(['mqtt:', 'mqtts:', 'ws:', 'wss:'])

/** Checks the options a caller gave (typed `INVALID_OPTIONS` errors) and fills in defaults. */
export function resolveMqttOptions(o: MqttDiscoveryOptions): MqttSettings {
  const identity = validateIdentity(o.identity)
  if (typeof o.getAnnouncement !== 'function') {
    throw new DiscoveryError('INVALID_OPTIONS', 'getAnnouncement must be a function')
  }
  if (o.brokerUrl !== undefined) validateBrokerUrl(o.brokerUrl)
  const protocolVersion = o.protocolVersion ?? 4
  if (protocolVersion !== 4 && protocolVersion !== 5) {
    throw new DiscoveryError('INVALID_OPTIONS', 'protocolVersion must be 4 (3.1.1) or 5')
  }
  const announceIntervalMs = positive(o.announceIntervalMs ?? 60_000, 'announceIntervalMs')
  const maxAnnouncementAgeMs = positive(o.maxAnnouncementAgeMs ?? 300_000, 'maxAnnouncementAgeMs')
  if (maxAnnouncementAgeMs <= announceIntervalMs * 1.2) {
    throw new DiscoveryError(
      'INVALID_OPTIONS',
      'maxAnnouncementAgeMs must exceed announceIntervalMs (plus its 20% jitter)',
    )
  }
  return {
    identity,
    getAnnouncement: o.getAnnouncement,
    brokerUrl: o.brokerUrl,
    protocolVersion,
    announceIntervalMs,
    maxAnnouncementAgeMs,
    maxClockSkewMs: positive(o.maxClockSkewMs ?? 60_000, 'maxClockSkewMs'),
    keepaliveSeconds: positive(o.keepaliveSeconds ?? 30, 'keepaliveSeconds'),
    connectTimeoutMs: positive(o.connectTimeoutMs ?? 10_000, 'connectTimeoutMs'),
    reconnect: o.reconnect ?? {},
    maxTopics: positive(o.maxTopics ?? 32, 'maxTopics'),
    maxPeersPerTopic: positive(o.maxPeersPerTopic ?? 256, 'maxPeersPerTopic'),
    clientOptions: { ...o.clientOptions },
  }
}

function validateBrokerUrl(url: string): void {
  let parsed: URL
  try {
    parsed = new URL(url)
  } catch (cause) {
    throw new DiscoveryError('INVALID_OPTIONS', `broker URL ${JSON.stringify(url)} is not a URL`, {
      cause,
    })
  }
  if (!BROKER_SCHEMES.has(parsed.protocol)) {
    throw new DiscoveryError(
      'INVALID_OPTIONS',
      `broker URL scheme ${parsed.protocol} is not one of mqtt:, mqtts:, ws:, wss:`,
    )
  }
}
