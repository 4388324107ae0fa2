/**
 * One indexed directory's own row: where it hangs in the tree, its totals (every file below
 * it, at any depth) and what the last scan saw. Little-endian: u32 parent id (0 for a share
 * root), u32 reserved, f64 total bytes, f64 total files, f64 mtime ms, f64 listed-at ms
 * (0 = never listed), then the UTF-8 name (the share name for a share root).
 */
const FIXED_BYTES = 40

export interface DirRecord {
  parentId: number
  bytes: number
  files: number
  /** The directory's own mtime (ms, fractional) as seen just before it was last listed. */
  mtime: number
  /** When the scan last read the directory (ms); 0 when it never did. */
  listedAt: number
  name: string
}

export function encodeDirRecord(r: DirRecord): Buffer {
  const name = Buffer.from(r.name, 'utf8')
  const out = Buffer.allocUnsafeSlow(FIXED_BYTES + name.length)
  out.writeUInt32LE(r.parentId, 0)
  out.writeUInt32LE(0, 4)
  out.writeDoubleLE(r.bytes, 8)
  out.writeDoubleLE(r.files, 16)
  out.writeDoubleLE(r.mtime, 24)
  out.writeDoubleLE(r.listedAt, 32)
  name.copy(out, FIXED_BYTES)
  return out
}

export function decodeDirRecord(b: Uint8Array): DirRecord {
  const buf = Buffer.isBuffer(b) ? b : Buffer.from(b.buffer, b.byteOffset, b.byteLength)
  if (buf.length < FIXED_BYTES) throw new RangeError('truncated directory record')
  return {
    parentId: buf.readUInt32LE(0),
    bytes: buf.readDoubleLE(8),
    files: buf.readDoubleLE(16),
    mtime: buf.readDoubleLE(24),
    listedAt: buf.readDoubleLE(32),
    name: buf.toString('utf8', FIXED_BYTES),
  }
}

export function sameDirRecord(a: DirRecord, b: DirRecord): boolean {
  return (
    a.parentId === b.parentId &&
    a.bytes === b.bytes &&
    a.files === b.files &&
    a.mtime === b.mtime &&
    a.listedAt === b.listedAt &&
    a.name === b.name
  )
}
