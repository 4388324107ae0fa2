import { Fifo } from './fifo'

/** Received payloads shorter than this are copied together instead of queued one by one. */
const COALESCE_BELOW_BYTES = 4 * 1024
/** Size of the buffers small payloads are copied into. */
const COALESCE_BUFFER_BYTES = 16 * 1024

interface Received {
  bytes: Uint8Array
  /** Bytes of `bytes` in use (a coalescing buffer fills up over several frames). */
  used: number
  /** Window consumed: payload plus the per-frame charge of every frame in it. */
  charge: number
  /** True for a coalescing buffer that may take more small payloads. */
  open: boolean
}

/**
 * A stream's received bytes waiting for its reader, kept so that memory follows the window
 * (issue 9.2): small payloads are copied together, a view that would keep a much larger
 * message buffer alive is copied out, and each entry remembers the window it consumed.
 */
export class ReceiveQueue {
  readonly #queue = new Fifo<Received>()
  /** Payload bytes queued. */
  bytes = 0

  push(payload: Uint8Array, charge: number): void {
    const n = payload.length
    this.bytes += n
    if (n < COALESCE_BELOW_BYTES) {
      const tail = this.#queue.peekLast()
      if (tail?.open && tail.bytes.length - tail.used >= n) {
        tail.bytes.set(payload, tail.used)
        tail.used += n
        tail.charge += charge
        return
      }
      const bytes = new Uint8Array(COALESCE_BUFFER_BYTES)
      bytes.set(payload)
      this.#queue.push({ bytes, used: n, charge, open: true })
      return
    }
    // A copy, not `payload.slice()`: on a Buffer (what secret-stream hands on) that is a view.
    const bytes =
      payload.byteLength * 2 < payload.buffer.byteLength ? new Uint8Array(payload) : payload
    this.#queue.push({ bytes, used: n, charge, open: false })
  }

  /** The oldest bytes and the window they consumed, or undefined when empty. */
  shift(): { value: Uint8Array; charge: number } | undefined {
    const received = this.#queue.shift()
    if (received === undefined) return undefined
    this.bytes -= received.used
    const value = received.open ? received.bytes.subarray(0, received.used) : received.bytes
    return { value, charge: received.charge }
  }

  clear(): void {
    this.#queue.clear()
    this.bytes = 0
  }
}
