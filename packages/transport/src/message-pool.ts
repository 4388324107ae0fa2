import { Socket } from 'node:net'
import NoiseSecretStream from '@hyperswarm/secret-stream'
import { MESSAGE_BYTES } from './mux-sender'

/**
 * secret-stream's bytes around a message's plaintext: a 3-byte length and a 1-byte tag in
 * front, a 16-byte MAC behind (its `_write` encrypts in place into `length + 3 + ABYTES`,
 * ABYTES being 17, with the plaintext at offset 4).
 */
const PREFIX_BYTES = 4
const OVERHEAD_BYTES = PREFIX_BYTES + 16
/** Messages this small come from node's shared slab or cost little to allocate. */
const MIN_POOLED_MESSAGE_BYTES = 16 * 1024
/** Every pooled buffer holds the largest message the multiplexer builds from stream data. */
const POOLED_BUFFER_BYTES = MESSAGE_BYTES + 1024
/** Free buffers kept for the whole process (4 MiB); more are left to the garbage collector. */
const MAX_FREE_BUFFERS = 16

const free: ArrayBuffer[] = []
/** Every buffer the pool made, so no other buffer is ever taken for one. */
const pooled = new WeakSet<ArrayBufferLike>()

/** Counters for tests: buffers made, and messages that got a reused one. */
export const messagePoolCounts = { made: 0, reused: 0 }

function take(): ArrayBuffer {
  const buffer = free.pop()
  if (buffer !== undefined) {
    messagePoolCounts.reused++
    return buffer
  }
  const made = new ArrayBuffer(POOLED_BUFFER_BYTES)
  pooled.add(made)
  messagePoolCounts.made++
  return made
}

/**
 * secret-stream whose outgoing message buffers on a TCP carrier are reused once the socket has
 * written them. A fresh 256 KiB buffer per message is fresh memory: glibc gives such buffers
 * back to the system when they are freed in bulk, so each new one costs about 64 page faults
 * and the kernel's zeroing (node, 2,048 fresh 256 KiB buffers touched: 200-600 ms; reused: 6
 * ms). That showed in profiles of the sending side as garbage collection and as the copy into
 * the message. Only a `node:net` socket says when it no longer holds a buffer (its
 * `writableLength` is 0 once every write completed); UDX keeps a buffer until it is
 * acknowledged, and a relayed carrier hands views of it on, so there every message is fresh.
 */
export class PooledSecretStream extends NoiseSecretStream {
  readonly #socket: Socket | undefined
  /** Pooled buffers written to the socket and not yet completed. */
  #writing: ArrayBuffer[] = []

  constructor(...args: ConstructorParameters<typeof NoiseSecretStream>) {
    super(...args)
    const raw = args[1]
    if (raw instanceof Socket) {
      this.#socket = raw
      raw.on('drain', () => this.#release())
    }
  }

  override alloc(length: number): Uint8Array {
    if (
      this.#socket === undefined ||
      length < MIN_POOLED_MESSAGE_BYTES ||
      length + OVERHEAD_BYTES > POOLED_BUFFER_BYTES
    ) {
      return super.alloc(length)
    }
    const wrapped = Buffer.from(take(), 0, length + OVERHEAD_BYTES)
    const plain = wrapped.subarray(PREFIX_BYTES, PREFIX_BYTES + length)
    // What secret-stream's own alloc() records: `_write` then encrypts `plain` in place.
    this._outgoingWrapped = wrapped
    this._outgoingPlain = plain
    return plain
  }

  override _write(data: Uint8Array, cb: (err?: Error | null) => void): void {
    const isPooled = data.byteOffset === PREFIX_BYTES && pooled.has(data.buffer)
    if (isPooled) {
      // Written later than allocated (queued behind a blocked write): still in place.
      this._outgoingWrapped = Buffer.from(data.buffer, 0, data.length + OVERHEAD_BYTES)
      this._outgoingPlain = data
    }
    super._write(data, cb)
    if (isPooled) this.#writing.push(data.buffer as ArrayBuffer)
    this.#release()
  }

  /** Returns the written buffers to the pool once the socket holds none of them. */
  #release(): void {
    if (this.#writing.length === 0 || this.#socket!.writableLength > 0) return
    for (const buffer of this.#writing) if (free.length < MAX_FREE_BUFFERS) free.push(buffer)
    this.#writing = []
  }
}
