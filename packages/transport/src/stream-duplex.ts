import { Duplex } from 'node:stream'
import type { TransportStream } from './types'

export interface StreamDuplexOptions {
  /**
   * Bytes already read from the stream (e.g. after a request frame that named it a relay
   * stream): they come out first.
   */
  head?: readonly Uint8Array[]
}

/**
 * A node `Duplex` over one {@link TransportStream}, so a connection can run inside another
 * connection's stream ({@link Transport.dialThrough}). Backpressure both ways: the stream is
 * read only while the duplex's reader wants more, and a write completes when the stream can
 * take more, so a stalled end holds at most the mux windows, never an unbounded queue.
 */
export function duplexFromStream(
  stream: TransportStream,
  options: StreamDuplexOptions = {},
): Duplex {
  return new StreamDuplex(stream, options.head ?? [])
}

class StreamDuplex extends Duplex {
  readonly #stream: TransportStream
  readonly #head: Uint8Array[]
  #reader: AsyncIterator<Uint8Array> | undefined
  #reading = false

  constructor(stream: TransportStream, head: readonly Uint8Array[]) {
    super({ allowHalfOpen: true })
    this.#stream = stream
    this.#head = head.filter((chunk) => chunk.length > 0)
    // The stream ending or failing under us ends the duplex as well.
    void stream.closed.then(
      () => {
        if (!this.destroyed && this.writableFinished && this.readableEnded) this.destroy()
      },
      (err: unknown) => this.destroy(err instanceof Error ? err : new Error(String(err))),
    )
  }

  override _read(): void {
    if (this.#reading) return
    this.#reading = true
    void this.#pump()
  }

  async #pump(): Promise<void> {
    try {
      for (;;) {
        const head = this.#head.shift()
        let chunk: Uint8Array
        if (head !== undefined) chunk = head
        else {
          this.#reader ??= this.#stream[Symbol.asyncIterator]()
          const next = await this.#reader.next()
          if (next.done === true) {
            this.push(null)
            return
          }
          chunk = next.value
        }
        if (this.destroyed) return
        // push() false: the reader is full; _read() starts the pump again when it drains.
        if (!this.push(chunk)) return
      }
    } catch (err) {
      this.destroy(err instanceof Error ? err : new Error(String(err)))
    } finally {
      this.#reading = false
    }
  }

  override _write(
    chunk: Uint8Array,
    _encoding: BufferEncoding,
    callback: (error?: Error | null) => void,
  ): void {
    // Secret-stream hands each encrypted message over in a buffer of its own; no copy.
    this.#stream.write(chunk).then(() => callback(), callback)
  }

  override _final(callback: (error?: Error | null) => void): void {
    this.#stream.end().then(() => callback(), callback)
  }

  override _destroy(error: Error | null, callback: (error?: Error | null) => void): void {
    this.#stream.abort(error ?? undefined)
    callback(error)
  }
}
