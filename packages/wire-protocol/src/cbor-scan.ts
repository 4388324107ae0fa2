import { WireError } from './errors'
import { MAX_CBOR_DEPTH } from './limits'

/**
 * Items still to read in each open container, by depth (a map counts keys and values). Index 0
 * is the top level, which holds exactly one item. Reused by every call: the scan is synchronous,
 * so it allocates nothing per input.
 */
const pending = new Float64Array(MAX_CBOR_DEPTH + 1)

/**
 * Walks the heads of CBOR bytes, before any decoder builds values from them, and refuses what our
 * protocol never sends: any tag (major type 6: cbor-x builds tag-2/3 bignums in quadratic time,
 * 128 KiB took 2.3 s), any indefinite length, nesting deeper than {@link MAX_CBOR_DEPTH}.
 * It also refuses what is not exactly one well-formed item: a string, array or map that declares
 * more bytes or items than the input still holds (so no decoder pre-allocates for a lie),
 * reserved head values, a two-byte simple value below 32, a stray break, trailing bytes.
 * One pass, O(length), no allocation. Throws `CBOR_TAG`, `CBOR_INDEFINITE`, `CBOR_TOO_DEEP` or
 * `MALFORMED`.
 */
export function scanCbor(bytes: Uint8Array): void {
  const end = bytes.length
  let pos = 0
  let depth = 0
  pending[0] = 1
  for (;;) {
    while (pending[depth] === 0) {
      if (depth === 0) {
        if (pos !== end) malformed(`${end - pos} bytes after the item`)
        return
      }
      depth--
    }
    pending[depth]!--
    if (pos >= end) malformed('input ends inside an item')
    const head = bytes[pos++]!
    const major = head >> 5
    const info = head & 0x1f
    if (major === 6) {
      throw new WireError('CBOR_TAG', `CBOR tag at byte ${pos - 1}; the protocol uses no tags`)
    }
    let arg: number
    if (info < 24) {
      arg = info
    } else if (info <= 27) {
      const size = 1 << (info - 24) // 1, 2, 4 or 8 bytes
      if (size > end - pos) malformed('input ends inside a head')
      arg = 0
      // Above 2^53 the value loses precision, but it only ever meets lengths far below that.
      for (let i = 0; i < size; i++) arg = arg * 256 + bytes[pos + i]!
      pos += size
    } else if (info === 31) {
      if (major >= 2 && major <= 5) {
        throw new WireError(
          'CBOR_INDEFINITE',
          `indefinite-length item at byte ${pos - 1}; the protocol uses definite lengths only`,
        )
      }
      malformed(
        major === 7 ? `break code at byte ${pos - 1} outside an indefinite item` : 'bad head',
      )
    } else {
      malformed(`reserved head 0x${head.toString(16)} at byte ${pos - 1}`)
    }
    switch (major) {
      case 2:
      case 3:
        if (arg > end - pos) malformed(`string of ${arg} bytes; ${end - pos} left`)
        pos += arg
        break
      case 4:
      case 5: {
        // Each item takes at least one byte: a count beyond the bytes left is a lie.
        const items = major === 4 ? arg : arg * 2
        if (items > end - pos) malformed(`container of ${arg} entries; ${end - pos} bytes left`)
        if (depth === MAX_CBOR_DEPTH) {
          throw new WireError(
            'CBOR_TOO_DEEP',
            `CBOR nested deeper than ${MAX_CBOR_DEPTH} at byte ${pos - 1}`,
          )
        }
        pending[++depth] = items
        break
      }
      case 7:
        if (info === 24 && arg < 32) malformed('two-byte simple value below 32')
        break
      default: // major 0 and 1: integers, the head was all of it
    }
  }
}

function malformed(why: string): never {
  throw new WireError('MALFORMED', `not a single well-formed CBOR item (${why})`)
}
