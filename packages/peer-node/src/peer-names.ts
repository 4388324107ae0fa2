import { createHash } from 'node:crypto'
import { adjectives, animals } from 'unique-names-generator'

/**
 * Names people can tell apart and say aloud, derived from a public key: an adjective and an
 * animal from unique-names-generator 4.7.1's dictionaries (1,202 adjectives, 355 animals;
 * the version is pinned exactly because a changed list would rename every peer). Specified in
 * docs/protocol.md §1.1, with vectors; a test pins the list lengths and the vectors.
 */
const LABEL = Buffer.from('harddrive-party/1 peer name')

export const PEER_NAME_WORDS = { adjectives: adjectives.length, animals: animals.length } as const

/** `PascalCase(adjective) + PascalCase(animal)`, from SHA-256(label ‖ key). */
export function peerName(publicKey: Uint8Array): string {
  const h = createHash('sha256').update(LABEL).update(publicKey).digest()
  const adjective = adjectives[h.readUInt32BE(0) % adjectives.length]!
  const animal = animals[h.readUInt32BE(4) % animals.length]!
  return pascal(adjective) + pascal(animal)
}

/**
 * Display names for a set of peers: the plain name, or `Name-1a2b` (the key's first hex digits,
 * as few as make it unique, at least 4) where two known peers share a name.
 */
export function displayNames(keys: Iterable<Uint8Array>): Map<string, string> {
  const byName = new Map<string, string[]>()
  for (const key of keys) {
    const hex = Buffer.from(key).toString('hex')
    const name = peerName(key)
    const list = byName.get(name) ?? []
    if (!list.includes(hex)) list.push(hex)
    byName.set(name, list)
  }
  const out = new Map<string, string>()
  for (const [name, hexes] of byName) {
    if (hexes.length === 1) {
      out.set(hexes[0]!, name)
      continue
    }
    let digits = 4
    while (digits < 64 && new Set(hexes.map((h) => h.slice(0, digits))).size < hexes.length) {
      digits += 2
    }
    for (const hex of hexes) out.set(hex, `${name}-${hex.slice(0, digits)}`)
  }
  return out
}

function pascal(word: string): string {
  return word
    .split(/[^A-Za-z0-9]+/)
    .filter(Boolean)
    .map((part) => part[0]!.toUpperCase() + part.slice(1).toLowerCase())
    .join('')
}
