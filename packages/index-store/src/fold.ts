/**
 * Case and accent folding for search: lower case, compatibility decomposition, combining
 * marks dropped. So `beyonce` finds `Beyoncé`, `ﬁle` finds `file`, and a name written in NFD
 * (as macOS writes them) matches a term typed in NFC.
 */
const MARKS = /\p{M}/gu

function isAscii(s: string): boolean {
  for (let i = 0; i < s.length; i++) if (s.charCodeAt(i) > 0x7f) return false
  return true
}

export function foldName(s: string): string {
  if (isAscii(s)) return s.toLowerCase()
  return s.toLowerCase().normalize('NFKD').replace(MARKS, '')
}

/** Folded names of a listing, each followed by `\n` (never part of an indexed name). */
export function foldedSegment(names: Iterable<string>): Uint8Array {
  let text = ''
  for (const n of names) text += `${foldName(n)}\n`
  const bytes = Buffer.from(text, 'utf8')
  const out = new Uint8Array(bytes.length)
  out.set(bytes)
  return out
}
