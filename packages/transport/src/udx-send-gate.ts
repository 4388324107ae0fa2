import type UDX from 'udx-native'
import { Fifo } from './fifo'

/** How much sending time the carrier may hold beyond what is in flight. */
const QUEUE_MS = 25
/** Floors and caps of that queue in bytes (the floor keeps the wire busy through short stalls). */
const MIN_QUEUE_BYTES = 64 * 1024
const START_QUEUE_BYTES = 256 * 1024
const MAX_QUEUE_BYTES = 4 * 1024 * 1024
/** Secret-stream's framing per message: a 3-byte length and a 17-byte tag. */
const MESSAGE_OVERHEAD = 20
/** The acknowledged rate is sampled over at least this long, and at most this long (idle). */
const RATE_INTERVAL_MS = 25
const RATE_IDLE_MS = 200

/** What the multiplexer's sender asks before it hands the carrier another message. */
export interface SendGate {
  /** Bytes the carrier may take now; 0 or less: wait (the gate wakes the sender later). */
  room(): number
  /** A message of `bytes` went to the carrier. */
  written(bytes: number): void
}

/**
 * Keeps what sits unsent in UDX's own send queue to about {@link QUEUE_MS} of its sending
 * rate (issue 12). libudx accepts writes until 256 KiB plus a congestion window are unacked,
 * and a small reply written after that waits for all of it: at 3.5 MB/s, 150 ms. Here the
 * bytes we handed over minus the bytes acknowledged (udx-native's `flush()` resolves once
 * every earlier write is acked) minus the bytes in flight (`inflight`) is the unsent queue;
 * data beyond the budget waits in the multiplexer, where other streams take turns with it.
 */
export class UdxSendGate implements SendGate {
  readonly #raw: UDX.Stream
  readonly #wake: () => void
  #handed = 0
  #acked = 0
  /** Messages not known to be acknowledged: where each ends in `#handed`, and its size. */
  readonly #outstanding = new Fifo<{ end: number; bytes: number }>()
  /** Acknowledged bytes per ms (0 before the first sample). */
  #rate = 0
  #rateFrom = performance.now()
  #rateAcked = 0
  #waiting = false

  constructor(raw: UDX.Stream, wake: () => void) {
    this.#raw = raw
    this.#wake = wake
  }

  /**
   * The unsent bytes below us, as last estimated. A message counts as acknowledged only when
   * all of it is, so the oldest one may be partly acknowledged already: it is left out, or a
   * long path would look queued and starve (seen at 400 ms: 0.78 MB/s of 2.5).
   */
  get unsentBytes(): number {
    const oldest = this.#outstanding.peek()?.bytes ?? 0
    return Math.max(0, this.#handed - this.#acked - this.#raw.inflight - oldest)
  }

  room(): number {
    const budget =
      this.#rate === 0
        ? START_QUEUE_BYTES
        : Math.min(MAX_QUEUE_BYTES, Math.max(MIN_QUEUE_BYTES, this.#rate * QUEUE_MS))
    // Whole bytes: a fractional room became a fractional frame length (bytes lost at the end).
    const room = Math.floor(budget - this.unsentBytes)
    if (room <= 0) this.#waiting = true
    return room
  }

  written(bytes: number): void {
    this.#handed += bytes + MESSAGE_OVERHEAD
    const mark = this.#handed
    this.#outstanding.push({ end: mark, bytes: bytes + MESSAGE_OVERHEAD })
    this.#raw.flush().then(
      (acked) => {
        if (acked) this.#onAcked(mark)
      },
      () => {},
    )
  }

  #onAcked(mark: number): void {
    if (mark <= this.#acked) return
    this.#acked = mark
    for (
      let m = this.#outstanding.peek();
      m !== undefined && m.end <= mark;
      m = this.#outstanding.peek()
    ) {
      this.#outstanding.shift()
    }
    const now = performance.now()
    const elapsed = now - this.#rateFrom
    if (elapsed > RATE_IDLE_MS) {
      // Acks after a pause say little about the rate; start a new sample.
      this.#rateFrom = now
      this.#rateAcked = this.#acked
    } else if (elapsed >= RATE_INTERVAL_MS) {
      const sample = (this.#acked - this.#rateAcked) / elapsed
      this.#rate = this.#rate === 0 ? sample : 0.75 * this.#rate + 0.25 * sample
      this.#rateFrom = now
      this.#rateAcked = this.#acked
    }
    if (this.#waiting) {
      this.#waiting = false
      this.#wake()
    }
  }
}
