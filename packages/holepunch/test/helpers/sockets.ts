import { createSocket as createDgramSocket, type Socket } from 'node:dgram'
import type { CreateSocket, DatagramSocket } from '@harddrive-party/holepunch'
import UDX, { type UDXSocket } from 'udx-native'

/** A udx-native socket as a DatagramSocket: what transport will hand to holepunch. */
export class UdxDatagramSocket implements DatagramSocket {
  constructor(readonly raw: UDXSocket) {}

  get port(): number {
    return this.raw.address()?.port ?? 0
  }

  async send(
    data: Uint8Array,
    port: number,
    host: string,
    options?: { ttl?: number },
  ): Promise<void> {
    await this.raw.send(data, port, host, options?.ttl)
  }

  onMessage(
    listener: (data: Uint8Array, from: { host: string; port: number }) => void,
  ): () => void {
    const handler = (buffer: Buffer, from: { host: string; port: number }): void =>
      listener(buffer, { host: from.host, port: from.port })
    this.raw.on('message', handler)
    return () => {
      this.raw.off('message', handler)
    }
  }

  close(): Promise<void> {
    return this.raw.close()
  }
}

/** Binds a UDX socket on `host` (IPv4; a bare bind would be dual-stack) and a free port. */
export function bindUdx(udx: UDX, host = '127.0.0.1', port = 0): UdxDatagramSocket {
  const raw = udx.createSocket()
  raw.bind(port, host)
  return new UdxDatagramSocket(raw)
}

/** The `createSocket` factory transport would pass: more sockets on the same UDX instance. */
export function udxSocketFactory(
  udx: UDX,
  host = '0.0.0.0',
): CreateSocket & { made: UdxDatagramSocket[] } {
  const made: UdxDatagramSocket[] = []
  const factory = (options?: { port?: number; host?: string }): UdxDatagramSocket => {
    const socket = bindUdx(udx, options?.host ?? host, options?.port ?? 0)
    made.push(socket)
    return socket
  }
  return Object.assign(factory, { made })
}

export { UDX }

/** A node:dgram socket as a DatagramSocket, to show holepunch is not tied to UDX. */
export class DgramDatagramSocket implements DatagramSocket {
  #closed = false
  private constructor(readonly raw: Socket) {}

  static async bind(host = '127.0.0.1', port = 0): Promise<DgramDatagramSocket> {
    const raw = createDgramSocket('udp4')
    await new Promise<void>((resolve, reject) => {
      raw.once('error', reject)
      raw.bind(port, host, () => resolve())
    })
    return new DgramDatagramSocket(raw)
  }

  get port(): number {
    return this.raw.address().port
  }

  send(data: Uint8Array, port: number, host: string, options?: { ttl?: number }): Promise<void> {
    return new Promise((resolve, reject) => {
      if (options?.ttl !== undefined) this.raw.setTTL(options.ttl)
      this.raw.send(data, port, host, (err) => {
        if (options?.ttl !== undefined && !this.#closed) this.raw.setTTL(64)
        if (err) reject(err)
        else resolve()
      })
    })
  }

  onMessage(
    listener: (data: Uint8Array, from: { host: string; port: number }) => void,
  ): () => void {
    const handler = (msg: Buffer, rinfo: { address: string; port: number }): void =>
      listener(msg, { host: rinfo.address, port: rinfo.port })
    this.raw.on('message', handler)
    return () => {
      this.raw.off('message', handler)
    }
  }

  async close(): Promise<void> {
    if (this.#closed) return
    this.#closed = true
    await new Promise<void>((resolve) => this.raw.close(() => resolve()))
  }
}
