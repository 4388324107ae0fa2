import { foldName } from '@harddrive-party/index-store'
import { describe, expect, it } from 'vitest'
import { decodeCursor, encodeCursor, queryHash } from '../src/cursor'
import { decodeDirRecord, encodeDirRecord } from '../src/dir-record'
import { encodeListing, Listing } from '../src/listing'

const utf8 = (s: string) => Buffer.from(s, 'utf8')

describe('listing codec', () => {
  it('sorts by name bytes, finds names and insertion points, and keeps child ids', () => {
    const l = new Listing(
      encodeListing([
        { name: utf8('b'), dir: false, size: 2, mtime: 20.5 },
        { name: utf8('é'), dir: true, size: 0, mtime: 0 },
        { name: utf8('B'), dir: false, size: 1, mtime: 10 },
        { name: utf8('a b'), dir: true, size: 0, mtime: 0 },
      ]),
    )
    expect([...Array(l.count).keys()].map((i) => l.name(i))).toEqual(['B', 'a b', 'b', 'é'])
    expect(l.find(utf8('b'))).toBe(2)
    expect(l.find(utf8('c'))).toBe(-4)
    expect(l.after(utf8('a'))).toBe(1)
    expect(l.after(utf8('b'))).toBe(3)
    expect([l.size(2), l.mtime(2), l.isDir(2), l.isDir(3)]).toEqual([2, 20.5, false, true])
    l.setChildId(3, 77)
    const copy = new Listing(Uint8Array.from(l.bytes))
    expect(copy.childId(3)).toBe(77)
    const without = copy.without(0)
    expect([...Array(without.count).keys()].map((i) => without.name(i))).toEqual(['a b', 'b', 'é'])
    expect(without.childId(2)).toBe(77)
    expect(without.fileTotals()).toEqual({ bytes: 2, files: 1 })
    expect(() => new Listing(new Uint8Array(3))).toThrow(RangeError)
  })

  it('round-trips directory records', () => {
    const r = {
      parentId: 5,
      name: 'Ünïcode dir',
      bytes: 2 ** 40,
      files: 12,
      mtime: 1.5,
      listedAt: 99,
    }
    expect(decodeDirRecord(encodeDirRecord(r))).toEqual(r)
  })

  it('binds cursors to their query', () => {
    const h = queryHash('ls', 'music')
    const c = encodeCursor('ls', h, { rel: 'a song' })
    expect(decodeCursor('ls', h, c)).toEqual({ rel: 'a song' })
    expect(() => decodeCursor('ls', queryHash('ls', 'films'), c)).toThrow(
      expect.objectContaining({ code: 'BAD_CURSOR' }),
    )
    const s = encodeCursor('search', 9, { dirId: 42, name: utf8('x') })
    expect(decodeCursor('search', 9, s)).toEqual({ dirId: 42, name: Uint8Array.from(utf8('x')) })
  })

  it('folds case, accents and compatibility forms', () => {
    expect(foldName('Beyoncé')).toBe('beyonce')
    expect(foldName('BJÖRK')).toBe('bjork')
    expect(foldName('ﬁle')).toBe('file')
    expect(foldName('İstanbul')).toBe('istanbul')
    expect(foldName('e\u0301')).toBe(foldName('é'))
  })
})
