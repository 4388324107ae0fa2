import { describe, expect, it } from 'vitest'
import { asksForUs, newServiceNames, readServiceRecords, serviceRecords } from '../src/mdns-service'

describe('mDNS service records', () => {
  const names = newServiceNames()
  const service = { ...names, host: '10.0.0.2', port: 4000, txt: ['hdp=1'] }

  it('builds PTR → SRV/TXT → A, and reads them back', () => {
    const records = serviceRecords(service, 120)
    expect(records.map((r) => r.type)).toEqual(['PTR', 'SRV', 'TXT', 'A'])
    const txt = [Buffer.from('hdp=1')]
    const seen = readServiceRecords({
      answers: records.map((r) => (r.type === 'TXT' ? { ...r, data: txt } : r)),
    })
    expect(seen.instances.get(names.instance)).toEqual({
      instance: names.instance,
      ttl: 120,
      srv: { port: 4000, target: names.target },
      txt,
    })
    expect(seen.hosts.get(names.target)).toEqual({ addresses: ['10.0.0.2'], ttl: 120 })
  })

  it('answers questions about our service only', () => {
    expect(asksForUs({ name: '_hdp._udp.local', type: 'PTR' }, service)).toBe(true)
    expect(asksForUs({ name: names.instance.toUpperCase(), type: 'TXT' }, service)).toBe(true)
    expect(asksForUs({ name: names.target, type: 'A' }, service)).toBe(true)
    expect(asksForUs({ name: '_printer._tcp.local', type: 'PTR' }, service)).toBe(false)
    expect(asksForUs({ name: names.target, type: 'AAAA' }, service)).toBe(false)
  })

  it('skips other services and hostile shapes, and reads at most 64 records', () => {
    const junk = [
      null,
      7,
      { name: 5, type: 'PTR' },
      { name: '_hdp._udp.local', type: 'PTR', data: { x: 1 } },
      { name: '_hdp._udp.local', type: 'PTR', data: 'printer._ipp._tcp.local' },
      { name: 'x._hdp._udp.local', type: 'SRV', data: { port: '80', target: 'a.local' } },
      { name: 'x._hdp._udp.local', type: 'TXT', data: [1, 2] },
    ]
    expect(readServiceRecords({ answers: junk }).instances.size).toBe(0)
    const many = Array.from({ length: 100 }, (_, i) => ({
      name: '_hdp._udp.local',
      type: 'PTR',
      ttl: 1,
      data: `i${i}._hdp._udp.local`,
    }))
    expect(readServiceRecords({ answers: many }).instances.size).toBe(64)
  })
})
