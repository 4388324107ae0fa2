import type { PartFile } from './part-file'

/** Received bytes are gathered into writes of about this size (one system call each). */
export const WRITE_BATCH_BYTES = 1024 * 1024

/**
 * Appends a transfer's bytes to its part file while more arrive: chunks are gathered into
 * writes of {@link WRITE_BATCH_BYTES}, and one write runs while the next batch is gathered. A
 * 64 KiB write per chunk, awaited before reading on, left both the network and the disk idle half
 * of the time (a write costs a thread-pool round trip; 16,384 of them per GiB).
 *
 * The part stays the truth: writes go out one at a time, in order, so the file on disk is always
 * a prefix of the transfer, and `written` (what progress reports) counts only bytes a finished
 * write put there. At most two batches are in memory.
 */
export class PartWriter {
  readonly #part: PartFile
  #batch: Uint8Array[] = []
  #batchBytes = 0
  /** Where the next batch goes. */
  #position: number
  #written: number
  #writing: Promise<void> | undefined
  #error: unknown

  constructor(part: PartFile, position: number) {
    this.#part = part
    this.#position = position
    this.#written = position
  }

  /** Bytes in the part file (where its finished writes end). */
  get written(): number {
    return this.#written
  }

  /**
   * Queues `chunk` after the bytes pushed before. Waits only when a full batch is ready and the
   * previous write still runs; rejects with a write's error.
   */
  async push(chunk: Uint8Array): Promise<void> {
    this.#throwIfFailed()
    this.#batch.push(chunk)
    this.#batchBytes += chunk.length
    if (this.#batchBytes < WRITE_BATCH_BYTES) return
    await this.#writing
    this.#throwIfFailed()
    this.#startWrite()
  }

  /** Writes every byte pushed and waits for it: then `written` is where the transfer ends. */
  async flush(): Promise<void> {
    await this.#writing
    this.#throwIfFailed()
    if (this.#batchBytes > 0) this.#startWrite()
    await this.#writing
    this.#throwIfFailed()
  }

  #startWrite(): void {
    const chunks = this.#batch
    const at = this.#position
    const end = at + this.#batchBytes
    this.#batch = []
    this.#batchBytes = 0
    this.#position = end
    // Never rejects: a failure is kept and thrown by the next push or flush.
    this.#writing = this.#part.writev(chunks, at).then(
      () => {
        this.#written = end
      },
      (err: unknown) => {
        this.#error ??= err
      },
    )
  }

  #throwIfFailed(): void {
    if (this.#error !== undefined) throw this.#error
  }
}
