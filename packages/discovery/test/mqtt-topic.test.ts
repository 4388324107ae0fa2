import { describe, expect, it } from 'vitest'
import {
  announceTopic,
  newAnnounceSlot,
  parseAnnounceTopic,
  randomClientId,
  topicFilter,
} from '../src/mqtt-topic'

const id = 'ab'.repeat(32)

describe('MQTT topic layout', () => {
  it('names one retained slot per (session, topic) under the topic public id', () => {
    const slot = newAnnounceSlot()
    expect(slot).toMatch(/^[0-9a-f]{32}$/)
    expect(newAnnounceSlot()).not.toBe(slot)
    expect(announceTopic(id, slot)).toBe(`hdp/1/${id}/${slot}`)
    expect(topicFilter(id)).toBe(`hdp/1/${id}/+`)
    expect(parseAnnounceTopic(announceTopic(id, slot), id)).toBe(slot)
  })

  it('refuses anything else', () => {
    const slot = newAnnounceSlot()
    expect(parseAnnounceTopic(`hdp/1/${id}/${slot}/x`, id)).toBeUndefined()
    expect(parseAnnounceTopic(`hdp/1/${id}/${slot.toUpperCase()}`, id)).toBeUndefined()
    expect(parseAnnounceTopic(`hdp/2/${id}/${slot}`, id)).toBeUndefined()
    expect(parseAnnounceTopic(`hdp/1/${'cd'.repeat(32)}/${slot}`, id)).toBeUndefined()
  })

  it('makes 23-character random client ids (the length every 3.1.1 broker accepts)', () => {
    const a = randomClientId()
    expect(a).toMatch(/^hdp[0-9a-f]{20}$/)
    expect(randomClientId()).not.toBe(a)
  })
})
