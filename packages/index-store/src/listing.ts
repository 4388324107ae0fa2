/**
 * The children of one indexed directory, packed into one LMDB value so that a scan writes one
 * value per directory instead of one per file, and `ls` reads one value per page.
 *
 * Layout (little-endian): u32 version, u32 count, then `count` records of 24 bytes
 * (f64 size, f64 mtime ms, u32 child directory id or 0 for a file, u32 end of the name in the
 * names area), then the UTF-8 names back to back. Records are sorted by the bytes of their
 * names, which is the order of every listing and the key of every cursor.
 */
const HEADER_BYTES = 8
const RECORD_BYTES = 24
const VERSION = 1

export interface ListingInput {
  name: Uint8Array
  dir: boolean
  size: number
  mtime: number
}

export function compareBytes(a: Uint8Array, b: Uint8Array): number {
  return Buffer.compare(a, b)
}

/** Packs entries; sorts them by name bytes first (in place). */
export function encodeListing(entries: ListingInput[]): Uint8Array {
  entries.sort((a, b) => compareBytes(a.name, b.name))
  let namesBytes = 0
  for (const e of entries) namesBytes += e.name.length
  const namesStart = HEADER_BYTES + entries.length * RECORD_BYTES
  // A standalone ArrayBuffer (not a pooled slice), so that a worker can transfer it.
  const out = new Uint8Array(namesStart + namesBytes)
  const view = new DataView(out.buffer)
  view.setUint32(0, VERSION, true)
  view.setUint32(4, entries.length, true)
  let at = HEADER_BYTES
  let nameAt = 0
  for (const e of entries) {
    view.setFloat64(at, e.dir ? 0 : e.size, true)
    view.setFloat64(at + 8, e.dir ? 0 : e.mtime, true)
    view.setUint32(at + 16, 0, true)
    out.set(e.name, namesStart + nameAt)
    nameAt += e.name.length
    view.setUint32(at + 20, nameAt | (e.dir ? 0x8000_0000 : 0), true)
    at += RECORD_BYTES
  }
  return out
}

/** A read view over a packed listing (no copy). */
export class Listing {
  readonly bytes: Buffer
  readonly count: number
  readonly #view: DataView
  readonly #namesStart: number

  constructor(bytes: Uint8Array) {
    this.bytes = Buffer.isBuffer(bytes)
      ? bytes
      : Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength)
    this.#view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength)
    if (bytes.byteLength < HEADER_BYTES || this.#view.getUint32(0, true) !== VERSION) {
      throw new RangeError('not a listing')
    }
    this.count = this.#view.getUint32(4, true)
    this.#namesStart = HEADER_BYTES + this.count * RECORD_BYTES
    if (this.#namesStart > bytes.byteLength) throw new RangeError('truncated listing')
  }

  static empty(): Listing {
    return new Listing(encodeListing([]))
  }

  #endWord(i: number): number {
    return this.#view.getUint32(HEADER_BYTES + i * RECORD_BYTES + 20, true)
  }

  #nameStart(i: number): number {
    return i === 0 ? 0 : this.#endWord(i - 1) & 0x7fff_ffff
  }

  #nameEnd(i: number): number {
    return this.#endWord(i) & 0x7fff_ffff
  }

  isDir(i: number): boolean {
    return (this.#endWord(i) & 0x8000_0000) !== 0
  }

  size(i: number): number {
    return this.#view.getFloat64(HEADER_BYTES + i * RECORD_BYTES, true)
  }

  mtime(i: number): number {
    return this.#view.getFloat64(HEADER_BYTES + i * RECORD_BYTES + 8, true)
  }

  childId(i: number): number {
    return this.#view.getUint32(HEADER_BYTES + i * RECORD_BYTES + 16, true)
  }

  setChildId(i: number, id: number): void {
    this.#view.setUint32(HEADER_BYTES + i * RECORD_BYTES + 16, id, true)
  }

  nameBytes(i: number): Buffer {
    return this.bytes.subarray(
      this.#namesStart + this.#nameStart(i),
      this.#namesStart + this.#nameEnd(i),
    )
  }

  name(i: number): string {
    return this.bytes.toString(
      'utf8',
      this.#namesStart + this.#nameStart(i),
      this.#namesStart + this.#nameEnd(i),
    )
  }

  /** Index of `name`, or `-(insertion point) - 1` when absent (like Java's binarySearch). */
  find(name: Uint8Array): number {
    let lo = 0
    let hi = this.count - 1
    while (lo <= hi) {
      const mid = (lo + hi) >>> 1
      const c = compareBytes(this.nameBytes(mid), name)
      if (c < 0) lo = mid + 1
      else if (c > 0) hi = mid - 1
      else return mid
    }
    return -lo - 1
  }

  /** First index whose name sorts after `name`. */
  after(name: Uint8Array): number {
    const i = this.find(name)
    return i >= 0 ? i + 1 : -i - 1
  }

  /** Sum of file sizes and number of files directly in this directory. */
  fileTotals(): { bytes: number; files: number } {
    let bytes = 0
    let files = 0
    for (let i = 0; i < this.count; i++) {
      if (!this.isDir(i)) {
        bytes += this.size(i)
        files++
      }
    }
    return { bytes, files }
  }

  /** A copy without entry `i` (child ids kept). */
  without(i: number): Listing {
    const inputs: ListingInput[] = []
    const ids: number[] = []
    for (let j = 0; j < this.count; j++) {
      if (j === i) continue
      inputs.push({
        name: this.nameBytes(j),
        dir: this.isDir(j),
        size: this.size(j),
        mtime: this.mtime(j),
      })
      ids.push(this.childId(j))
    }
    const out = new Listing(encodeListing(inputs))
    for (let j = 0; j < ids.length; j++) out.setChildId(j, ids[j] ?? 0)
    return out
  }
}
