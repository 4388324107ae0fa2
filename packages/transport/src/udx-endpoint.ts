import type UDX from 'udx-native'
import type { Admission, HalfOpenTicket } from './admission'
import {
  type ControlDatagram,
  decodeControlDatagram,
  encodeControlDatagram,
  isControlDatagram,
  newNonce,
} from './control-datagram'
import { TransportError } from './errors'
import type { DatagramSocket, Logger, SocketAddress } from './types'

export type DatagramListener = (data: Uint8Array, from: SocketAddress) => void

export interface EndpointContext {
  readonly udx: UDX
  readonly admission: Admission
  readonly log: Logger
  allocateStreamId(): number
  releaseStreamId(id: number): void
  /** A dialer's UDX stream is connected on our side; run the acceptor's handshake on it. */
  onIncoming(
    stream: UDX.Stream,
    endpoint: UdxEndpoint,
    from: SocketAddress,
    ticket: HalfOpenTicket,
  ): void
}

interface PendingDial {
  stream: UDX.Stream
  nonce: Uint8Array
  host: string
  port: number
  cookie: Uint8Array | undefined
  timer: NodeJS.Timeout | undefined
  sends: number
  resolve: (value: { stream: UDX.Stream; from: SocketAddress }) => void
  reject: (err: unknown) => void
}

interface AcceptedAttempt {
  stream: UDX.Stream
  acceptorStreamId: number
  answers: number
}

/** Resend delays of a `connect` that got no answer; the dial's own timeout ends the loop. */
const CONNECT_RETRY_MS = [200, 300, 500, 800, 1200, 2000]
/** Most `accept` answers sent again for duplicate `connect`s of one attempt. */
const MAX_ANSWERS = 8

/**
 * One UDX socket: raw datagrams for whoever listens (STUN, punching), plus the control
 * datagrams that set up UDX streams, both as dialer and as acceptor. Every socket of the
 * transport is one of these, so a socket made for birthday punching accepts connections too.
 */
export class UdxEndpoint implements DatagramSocket {
  readonly socket: UDX.Socket
  readonly main: boolean
  readonly #ctx: EndpointContext
  readonly #listeners: Set<DatagramListener>
  readonly #dials = new Map<number, PendingDial>()
  readonly #accepted = new Map<string, AcceptedAttempt>()
  /** Every stream that runs on this socket, so closing the socket can end them. */
  readonly #streams = new Set<UDX.Stream>()
  #closing: Promise<void> | undefined

  constructor(
    socket: UDX.Socket,
    ctx: EndpointContext,
    options: { main: boolean; listeners?: Set<DatagramListener> },
  ) {
    this.socket = socket
    this.main = options.main
    this.#ctx = ctx
    this.#listeners = options.listeners ?? new Set()
    socket.on('message', (data, from) => this.#onDatagram(data, from))
  }

  get port(): number {
    return this.socket.address()?.port ?? 0
  }

  get host(): string {
    return this.socket.address()?.host ?? '0.0.0.0'
  }

  get closed(): boolean {
    return this.#closing !== undefined
  }

  async send(
    data: Uint8Array,
    port: number,
    host: string,
    options: { ttl?: number } = {},
  ): Promise<void> {
    checkAddress(host, port)
    if (this.#closing !== undefined) throw new TransportError('CLOSED', 'socket is closed')
    const sent = await this.socket.send(data, port, host, options.ttl)
    if (!sent) {
      if (this.#closing !== undefined) throw new TransportError('CLOSED', 'socket is closed')
      throw new TransportError('SOCKET_ERROR', `could not send a datagram to ${host}:${port}`)
    }
  }

  onMessage(listener: DatagramListener): () => void {
    this.#listeners.add(listener)
    return () => {
      this.#listeners.delete(listener)
    }
  }

  /**
   * Closes this socket and every connection on it. The transport's main socket is closed by
   * `transport.stop()` only; closing it through this interface does nothing.
   */
  close(): Promise<void> {
    if (this.main) return Promise.resolve()
    return this.shutdown()
  }

  /** Really closes: pending dials fail, streams on this socket are destroyed, the socket unbinds. */
  shutdown(): Promise<void> {
    this.#closing ??= (async () => {
      for (const dial of [...this.#dials.values()]) {
        this.#settleDial(dial)
        dial.stream.destroy()
        dial.reject(new TransportError('CLOSED', 'socket closed'))
      }
      for (const stream of this.#streams) stream.destroy()
      await this.socket.close()
    })()
    return this.#closing
  }

  /** Dialer side: asks the socket at `host:port` for a stream and connects ours to it. */
  connect(
    host: string,
    port: number,
    signal: AbortSignal,
  ): Promise<{ stream: UDX.Stream; from: SocketAddress }> {
    checkAddress(host, port)
    signal.throwIfAborted()
    if (this.#closing !== undefined) throw new TransportError('CLOSED', 'socket is closed')
    const id = this.#ctx.allocateStreamId()
    // Until `accept` tells us the remote id, packets for this stream are dropped.
    const stream = this.#ctx.udx.createStream(id, { firewall: () => true, framed: true })
    this.#track(stream, id)
    return new Promise((resolve, reject) => {
      const dial: PendingDial = {
        stream,
        nonce: newNonce(),
        host,
        port,
        cookie: undefined,
        timer: undefined,
        sends: 0,
        resolve: (value) => {
          signal.removeEventListener('abort', onAbort)
          resolve(value)
        },
        reject: (err) => {
          signal.removeEventListener('abort', onAbort)
          reject(err)
        },
      }
      const onAbort = () => {
        if (!this.#settleDial(dial)) return
        this.#sendControl({ type: 'cancel', streamId: id, nonce: dial.nonce }, port, host)
        stream.destroy()
        dial.reject(signal.reason)
      }
      signal.addEventListener('abort', onAbort, { once: true })
      this.#dials.set(id, dial)
      this.#sendConnect(id, dial)
    })
  }

  // ---- internals ----

  #track(stream: UDX.Stream, id: number): void {
    this.#streams.add(stream)
    stream.on('error', (err: Error) => this.#ctx.log.trace('udx stream %d: %s', id, err.message))
    stream.once('close', () => {
      this.#streams.delete(stream)
      this.#ctx.releaseStreamId(id)
    })
  }

  #sendConnect(id: number, dial: PendingDial): void {
    const delay = CONNECT_RETRY_MS[Math.min(dial.sends, CONNECT_RETRY_MS.length - 1)]!
    dial.sends++
    this.#sendControl(
      { type: 'connect', streamId: id, nonce: dial.nonce, cookie: dial.cookie },
      dial.port,
      dial.host,
    )
    dial.timer = setTimeout(() => this.#sendConnect(id, dial), delay)
  }

  /** Removes a pending dial; false if it was already settled. */
  #settleDial(dial: PendingDial): boolean {
    const id = dial.stream.id
    if (this.#dials.get(id) !== dial) return false
    this.#dials.delete(id)
    clearTimeout(dial.timer)
    return true
  }

  #sendControl(message: ControlDatagram, port: number, host: string): void {
    if (this.#closing !== undefined) return
    try {
      this.socket.trySend(encodeControlDatagram(message), port, host)
    } catch (err) {
      this.#ctx.log.error('control datagram to %s:%d: %s', host, port, (err as Error).message)
    }
  }

  #onDatagram(data: Uint8Array, from: { host: string; port: number }): void {
    if (!isControlDatagram(data)) {
      for (const listener of this.#listeners) {
        try {
          listener(data, { host: from.host, port: from.port })
        } catch (err) {
          this.#ctx.log.error('datagram listener threw: %s', (err as Error).message)
        }
      }
      return
    }
    const message = decodeControlDatagram(data)
    if (message === undefined) {
      this.#ctx.log.trace('malformed control datagram from %s:%d', from.host, from.port)
      return
    }
    switch (message.type) {
      case 'connect':
        this.#onConnect(message, from)
        return
      case 'cancel':
        this.#onCancel(message, from)
        return
      default:
        this.#onAnswer(message, from)
        return
    }
  }

  #onConnect(
    message: Extract<ControlDatagram, { type: 'connect' }>,
    from: { host: string; port: number },
  ): void {
    if (this.#closing !== undefined) return
    const key = attemptKey(from, message.streamId, message.nonce)
    const known = this.#accepted.get(key)
    if (known !== undefined) {
      // Our accept got lost (or is slow): answer again, a bounded number of times.
      if (known.answers++ < MAX_ANSWERS) this.#sendAccept(message, known.acceptorStreamId, from)
      return
    }
    const { admission } = this.#ctx
    if (!admission.takeToken(from.host)) {
      this.#ctx.log('rate limited handshake from %s:%d', from.host, from.port)
      if (admission.mayAnswerRefusal(from.host)) {
        this.#sendControl(
          {
            type: 'reject',
            streamId: message.streamId,
            nonce: message.nonce,
            reason: 'rate-limited',
          },
          from.port,
          from.host,
        )
      }
      return
    }
    if (admission.wantsCookie) {
      const valid =
        message.cookie !== undefined &&
        admission.checkCookie(message.cookie, from.host, from.port, message.streamId, message.nonce)
      if (!valid) {
        const cookie = admission.cookie(from.host, from.port, message.streamId, message.nonce)
        this.#sendControl(
          { type: 'retry', streamId: message.streamId, nonce: message.nonce, cookie },
          from.port,
          from.host,
        )
        return
      }
    }
    const id = this.#ctx.allocateStreamId()
    const stream = this.#ctx.udx.createStream(id, { firewall: () => true, framed: true })
    this.#track(stream, id)
    try {
      stream.connect(this.socket, message.streamId, from.port, from.host)
    } catch (err) {
      this.#ctx.log.error(
        'connect udx stream to %s:%d: %s',
        from.host,
        from.port,
        (err as Error).message,
      )
      stream.destroy()
      return
    }
    this.#accepted.set(key, { stream, acceptorStreamId: id, answers: 0 })
    stream.once('close', () => this.#accepted.delete(key))
    const ticket = admission.track(from.host, () => stream.destroy())
    this.#sendAccept(message, id, from)
    this.#ctx.onIncoming(stream, this, { host: from.host, port: from.port }, ticket)
  }

  #sendAccept(
    message: { streamId: number; nonce: Uint8Array },
    acceptorStreamId: number,
    to: { host: string; port: number },
  ): void {
    this.#sendControl(
      { type: 'accept', streamId: message.streamId, nonce: message.nonce, acceptorStreamId },
      to.port,
      to.host,
    )
  }

  #onCancel(
    message: Extract<ControlDatagram, { type: 'cancel' }>,
    from: { host: string; port: number },
  ): void {
    const attempt = this.#accepted.get(attemptKey(from, message.streamId, message.nonce))
    attempt?.stream.destroy()
  }

  /** accept / retry / reject for one of our dials. */
  #onAnswer(
    message: Extract<ControlDatagram, { type: 'accept' | 'retry' | 'reject' }>,
    from: { host: string; port: number },
  ): void {
    const dial = this.#dials.get(message.streamId)
    if (dial === undefined || !equal(dial.nonce, message.nonce)) return
    switch (message.type) {
      case 'accept': {
        this.#settleDial(dial)
        try {
          // The answer's source is where the acceptor's packets come from (its NAT mapping).
          dial.stream.connect(this.socket, message.acceptorStreamId, from.port, from.host)
        } catch (err) {
          dial.stream.destroy()
          dial.reject(
            new TransportError('HANDSHAKE_FAILED', (err as Error).message, { cause: err }),
          )
          return
        }
        dial.resolve({ stream: dial.stream, from: { host: from.host, port: from.port } })
        return
      }
      case 'retry':
        if (dial.cookie !== undefined) return // one round trip of cookies is enough
        dial.cookie = message.cookie
        clearTimeout(dial.timer)
        this.#sendConnect(message.streamId, dial)
        return
      case 'reject':
        this.#settleDial(dial)
        dial.stream.destroy()
        dial.reject(
          new TransportError(
            'RATE_LIMITED',
            `${dial.host}:${dial.port} refused the handshake (${message.reason})`,
          ),
        )
        return
    }
  }
}

function attemptKey(from: { host: string; port: number }, streamId: number, nonce: Uint8Array) {
  return `${from.host}|${from.port}|${streamId}|${Buffer.from(nonce).toString('hex')}`
}

function equal(a: Uint8Array, b: Uint8Array): boolean {
  return a.length === b.length && Buffer.from(a).equals(b)
}

function checkAddress(host: string, port: number): void {
  if (!/^\d{1,3}(\.\d{1,3}){3}$/.test(host) && !host.includes(':')) {
    throw new TypeError(`${host} is not an IP address`)
  }
  if (!Number.isInteger(port) || port <= 0 || port > 65535) {
    throw new TypeError(`${port} is not a port`)
  }
}
