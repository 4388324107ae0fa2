/** Control characters and backslashes: what wire-protocol refuses inside a path segment. */
export function hasUnsafeNameChar(s: string): boolean {
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i)
    if (c < 0x20 || c === 0x7f || c === 0x5c) return true
  }
  return false
}

/** `s` with every character {@link hasUnsafeNameChar} refuses (and `/`) replaced by `_`. */
export function replaceUnsafeNameChars(s: string): string {
  let out = ''
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i)
    out += c < 0x20 || c === 0x7f || c === 0x5c || c === 0x2f ? '_' : s[i]
  }
  return out
}
