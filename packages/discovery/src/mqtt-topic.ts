import { PROTOCOL_MAJOR } from '@harddrive-party/wire-protocol'
import { randomHex } from './hex'

/**
 * MQTT topic layout: `hdp/<protocol major>/<topic publicId>/<announce slot>`.
 *
 * The slot is 16 random bytes, fresh for each (session, topic), so the retained announcements
 * of many peers coexist under one topic, and a slot says nothing about who owns it or which
 * other topics that owner is in.
 */
export const MQTT_TOPIC_ROOT = `hdp/${PROTOCOL_MAJOR}`

const SLOT = /^[0-9a-f]{32}$/

export function newAnnounceSlot(): string {
  return randomHex(16)
}

export function announceTopic(publicId: string, slot: string): string {
  return `${MQTT_TOPIC_ROOT}/${publicId}/${slot}`
}

/** The subscription that receives every slot of one topic. */
export function topicFilter(publicId: string): string {
  return `${MQTT_TOPIC_ROOT}/${publicId}/+`
}

/** The slot named by `mqttTopic` if it is an announce topic of `publicId`, else `undefined`. */
export function parseAnnounceTopic(mqttTopic: string, publicId: string): string | undefined {
  const prefix = `${MQTT_TOPIC_ROOT}/${publicId}/`
  if (!mqttTopic.startsWith(prefix)) return undefined
  const slot = mqttTopic.slice(prefix.length)
  return SLOT.test(slot) ? slot : undefined
}

/**
 * A client id for one connection: 23 characters (the length every MQTT 3.1.1 broker must
 * accept), random each time, so neither reconnects nor topics nor restarts share one.
 */
export function randomClientId(): string {
  return `hdp${randomHex(10)}`
}
