import type { PartFile } from './part-file'

/** Most bytes gathered for one write; a transfer whose disk is slower waits at this point. */
export const MAX_WRITE_BYTES = 1024 * 1024

/**
 * Appends a transfer's bytes to its part file while more arrive. A write starts as soon as the
 * previous one ended, with every chunk that arrived meanwhile (up to {@link MAX_WRITE_BYTES}):
 * a slow transfer writes each chunk at once (a file played while it downloads sees its bytes),
 * a fast one gathers many chunks per system call. A 64 KiB write per chunk, awaited before
 * reading on, left the network and the disk idle in turn (a write costs a thread-pool round
 * trip; 16,384 of them per GiB).
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
   * Queues `chunk` after the bytes pushed before. Waits only while a full batch waits for the
   * write in progress; rejects with a write's error.
   */
  async push(chunk: Uint8Array): Promise<void> {
    this.#throwIfFailed()
    if (chunk.length === 0) return
    this.#batch.push(chunk)
    this.#batchBytes += chunk.length
    if (this.#writing === undefined) this.#startWrite()
    while (this.#batchBytes >= MAX_WRITE_BYTES && this.#writing !== undefined) await this.#writing
    this.#throwIfFailed()
  }

  /** Writes every byte pushed and waits for it: then `written` is where the transfer ends. */
  async flush(): Promise<void> {
    while (this.#writing !== undefined) await this.#writing
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
        this.#writing = undefined
        if (this.#batchBytes > 0) this.#startWrite()
      },
      (err: unknown) => {
        this.#error ??= err
        this.#writing = undefined
      },
    )
  }

  #throwIfFailed(): void {
    if (this.#error !== undefined) throw this.#error
  }
}
