import type { ApiEvent, Logger } from '@harddrive-party/wire-protocol'
import type { WebSocket } from 'ws'

/**
 * The controllers' WebSockets. Every send first checks the socket's queue: a client that
 * lets more than `maxQueueBytes` pile up (slow or hostile) is closed, so it cannot grow our
 * memory.
 */
export class EventsHub {
  readonly #sockets = new Set<WebSocket>()
  readonly #maxQueueBytes: number
  readonly #log: Logger

  constructor(maxQueueBytes: number, log: Logger) {
    this.#maxQueueBytes = maxQueueBytes
    this.#log = log
  }

  get size(): number {
    return this.#sockets.size
  }

  add(socket: WebSocket): void {
    this.#sockets.add(socket)
    socket.once('close', () => this.#sockets.delete(socket))
  }

  /** Sends one JSON message to one socket (closing it when its queue is over the bound). */
  send(socket: WebSocket, message: unknown): void {
    if (socket.readyState !== socket.OPEN) return
    if (socket.bufferedAmount > this.#maxQueueBytes) {
      this.#log('closing a controller socket: %d bytes queued', socket.bufferedAmount)
      socket.close(1008, 'too slow: send queue full')
      // A client that does not read will not answer the close either.
      setTimeout(() => socket.terminate(), 1000).unref()
      this.#sockets.delete(socket)
      return
    }
    socket.send(JSON.stringify(message))
  }

  emit(event: ApiEvent): void {
    for (const socket of this.#sockets) this.send(socket, { type: 'event', event })
  }

  closeAll(): void {
    for (const socket of this.#sockets) socket.close(1001, 'the peer is stopping')
    this.#sockets.clear()
  }
}
