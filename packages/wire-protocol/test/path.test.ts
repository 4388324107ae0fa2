import {
  isSharePath,
  joinSharePath,
  splitSharePath,
  validateSharePath,
} from '@harddrive-party/wire-protocol'
import { describe, expect, it } from 'vitest'

describe('validateSharePath', () => {
  it.each([
    '',
    'music',
    'music/jazz/A Love Supreme.flac',
    'films/Nosferatu (1922)/..hidden',
    'x/...',
    'ünïcödé/日本語',
    'a'.repeat(255),
  ])('accepts %j', (p) => {
    expect(validateSharePath(p)).toBe(p)
  })

  it.each([
    ['..', 'segment'],
    ['music/..', 'segment'],
    ['music/../..', 'segment'],
    ['./music', 'segment'],
    ['/etc/passwd', 'absolute'],
    ['music//jazz', 'empty segment'],
    ['music/', 'empty segment'],
    ['music\\..\\..\\x', 'backslash'],
    ['C:/Windows', 'drive letter'],
    ['c:x', 'drive letter'],
    ['a\u0000b', 'control'],
    ['a\nb', 'control'],
    ['a'.repeat(256), 'segment is longer'],
    [`${'abcdefgh/'.repeat(500)}x`, 'longer than'],
  ])('refuses %j (%s)', (p, why) => {
    expect(() => validateSharePath(p)).toThrowError(
      expect.objectContaining({ code: 'BAD_PATH', message: expect.stringContaining(why) }),
    )
    expect(isSharePath(p)).toBe(false)
  })

  it('refuses values that are not strings', () => {
    for (const v of [undefined, null, 1, {}, ['a'], new Uint8Array(1)]) {
      expect(() => validateSharePath(v)).toThrowError(expect.objectContaining({ code: 'BAD_PATH' }))
    }
  })

  it('counts the byte length of multi-byte names', () => {
    expect(isSharePath('é'.repeat(127))).toBe(true) // 254 bytes
    expect(isSharePath('é'.repeat(128))).toBe(false) // 256 bytes
  })

  it('splits and joins', () => {
    expect(splitSharePath('')).toEqual([])
    expect(splitSharePath('a/b/c')).toEqual(['a', 'b', 'c'])
    expect(joinSharePath('a', '', 'b')).toBe('a/b')
    expect(() => joinSharePath('a', '..')).toThrowError(
      expect.objectContaining({ code: 'BAD_PATH' }),
    )
  })
})

describe('utf8 length used by the limits', () => {
  it('matches TextEncoder on tricky strings', async () => {
    const { default: fc } = await import('fast-check')
    const { isSharePath: ok } = await import('@harddrive-party/wire-protocol')
    fc.assert(
      fc.property(fc.string({ unit: 'binary', maxLength: 300 }), (s) => {
        // A single segment of `s` is accepted only when it fits 255 bytes (if otherwise valid).
        const clean = Array.from(s, (ch) =>
          ch.charCodeAt(0) < 0x20 || ch === '\x7f' || ch === '/' || ch === '\\' ? 'x' : ch,
        ).join('')
        if (clean === '' || clean === '.' || clean === '..' || /^[a-zA-Z]:/.test(clean)) return true
        return ok(clean) === new TextEncoder().encode(clean).length <= 255
      }),
      { numRuns: 2000 },
    )
  })
})
