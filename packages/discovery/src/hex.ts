/** Lowercase hex of `bytes`. */
export function bytesToHex(bytes: Uint8Array): string {
  return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString('hex')
}

/** `n` random bytes as lowercase hex. */
export function randomHex(n: number): string {
  return bytesToHex(crypto.getRandomValues(new Uint8Array(n)))
}
