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

/** Back to the free list, unless it is full. */
function give(buffer: ArrayBufferLike): void {
  if (free.length < MAX_FREE_BUFFERS) free.push(buffer as ArrayBuffer)
}

/**
 * Incoming messages at least this long are assembled in a pooled buffer when they span socket
 * reads (256 KiB messages on TCP; UDX's are at most 64 KiB, so they never are: a 64 KiB view
 * would pin a 257 KiB buffer).
 */
const MIN_POOLED_RECEIVE_BYTES = Number(process.env.HDP_RX_MIN ?? POOLED_BUFFER_BYTES / 2)

/**
 * A pooled buffer holding one received message: the references still out. The multiplexer
 * holds one while it parses the message, and each chunk lent to a stream's reader one more.
 * The buffer goes back to the pool only when every one of them was given back; a chunk never
 * given back leaves its buffer to the garbage collector.
 */
const leases = new WeakMap<ArrayBufferLike, { refs: number }>()
/** Chunks handed to readers that may be given back, each once ({@link releaseChunk}). */
const lent = new WeakSet<Uint8Array>()

/** Counters for tests: received messages assembled in a pooled buffer, and buffers given back. */
export const receivePoolCounts = { assembled: 0, returned: 0 }

function unref(buffer: ArrayBufferLike): void {
  const lease = leases.get(buffer)
  if (lease === undefined || --lease.refs > 0) return
  leases.delete(buffer)
  receivePoolCounts.returned++
  give(buffer)
}

/** A stream hands `chunk` (a view of a received message) to its reader as it is. */
export function lendChunk(chunk: Uint8Array): void {
  const lease = leases.get(chunk.buffer)
  if (lease === undefined || lent.has(chunk)) return
  lease.refs++
  lent.add(chunk)
}

/** Buffers assembled here whose message the multiplexer has not released yet. */
const messagesOut = new WeakSet<ArrayBufferLike>()

/**
 * The multiplexer is done with `message` (it parsed it and handed its chunks on). Only a
 * message assembled here counts: a relayed connection's messages can be views of the outer
 * connection's chunks, whose references are the outer multiplexer's and its readers'.
 */
export function releaseMessage(message: Uint8Array): void {
  if (message.byteOffset === PREFIX_BYTES && messagesOut.delete(message.buffer)) {
    unref(message.buffer)
  }
}

/**
 * Gives back a chunk read from a stream once its bytes are no longer needed (e.g. written to
 * disk): its memory may then hold a later message, so the caller must not read it again.
 * Optional: a chunk not given back is garbage-collected as usual. Only the very chunk a stream
 * yielded counts, once; anything else is ignored.
 */
export function releaseChunk(chunk: Uint8Array): void {
  if (lent.delete(chunk)) unref(chunk.buffer)
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
  /** A large incoming message being assembled (its length bytes first), and its bytes so far. */
  #assembling: Buffer | undefined
  #assembled = 0
  /** Bytes of the current incoming message that secret-stream assembles itself. */
  #passOn = 0
  /** Length bytes of the next incoming message that ended the last read. */
  #header: number[] = []

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
    for (const buffer of this.#writing) give(buffer)
    this.#writing = []
  }

  /**
   * Incoming bytes. A large message that spans socket reads (64 KiB each) is assembled here, in
   * a pooled buffer, and handed to secret-stream whole, which then decrypts it where it lies;
   * secret-stream itself would copy it into a fresh buffer (fresh memory: the same page faults
   * as on the sending side). Everything else passes through in runs cut at message boundaries.
   * Messages are `uint24le length | body`.
   */
  override _onrawdata(data: Uint8Array): void {
    let at = 0
    let runFrom = 0 // bytes from here up to `at` go to secret-stream as they are
    while (at < data.length && !this.destroying) {
      if (this.#assembling !== undefined) {
        const n = Math.min(this.#assembling.length - this.#assembled, data.length - at)
        this.#assembling.set(data.subarray(at, at + n), this.#assembled)
        this.#assembled += n
        at += n
        runFrom = at
        if (this.#assembled === this.#assembling.length) {
          const message = this.#assembling
          this.#assembling = undefined
          leases.set(message.buffer, { refs: 1 })
          messagesOut.add(message.buffer)
          receivePoolCounts.assembled++
          super._onrawdata(message)
        }
        continue
      }
      if (this.#passOn > 0) {
        const n = Math.min(this.#passOn, data.length - at)
        this.#passOn -= n
        at += n
        continue
      }
      // A message starts here; its length bytes may have begun in the previous read.
      const saved = this.#header.length
      while (this.#header.length < 3 && at < data.length) this.#header.push(data[at++]!)
      if (this.#header.length < 3) break
      const [b0, b1, b2] = this.#header as [number, number, number]
      this.#header = []
      const total = 3 + (b0 | (b1 << 8) | (b2 << 16))
      const inThisRead = data.length - at + 3
      if (saved === 0 && total <= inThisRead) {
        at += total - 3 // whole in this read: secret-stream decrypts a view of it
        continue
      }
      if (total >= MIN_POOLED_RECEIVE_BYTES && total <= POOLED_BUFFER_BYTES) {
        if (runFrom < at - 3 + saved) super._onrawdata(data.subarray(runFrom, at - 3 + saved))
        this.#assembling = Buffer.from(take(), 0, total)
        this.#assembling.set([b0, b1, b2])
        this.#assembled = 3
        runFrom = at
        continue
      }
      // secret-stream assembles this one itself; length bytes held back go first.
      if (saved > 0) {
        super._onrawdata(Uint8Array.from([b0, b1, b2].slice(0, saved)))
        if (this.destroying) return
      }
      this.#passOn = total - 3
    }
    if (this.destroying) return
    if (this.#header.length > 0 && runFrom < data.length - this.#header.length) {
      // Held-back length bytes at the end of this read are not passed on yet.
      super._onrawdata(data.subarray(runFrom, data.length - this.#header.length))
    } else if (this.#header.length === 0 && runFrom < at) {
      super._onrawdata(data.subarray(runFrom, at))
    }
  }
}
