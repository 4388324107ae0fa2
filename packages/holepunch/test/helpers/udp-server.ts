import { createSocket, type RemoteInfo, type Socket } from 'node:dgram'

/** A plain UDP socket on 127.0.0.1 that records what it receives; the test decides what to answer. */
export class UdpServer {
  readonly received: Array<{ data: Uint8Array; from: RemoteInfo; at: number }> = []
  #onMessage: ((data: Uint8Array, from: RemoteInfo) => void) | undefined

  private constructor(readonly socket: Socket) {
    socket.on('message', (data, from) => {
      this.received.push({ data: new Uint8Array(data), from, at: performance.now() })
      this.#onMessage?.(new Uint8Array(data), from)
    })
  }

  static async bind(host = '127.0.0.1'): Promise<UdpServer> {
    const socket = createSocket('udp4')
    await new Promise<void>((resolve, reject) => {
      socket.once('error', reject)
      socket.bind(0, host, () => resolve())
    })
    return new UdpServer(socket)
  }

  get address(): { host: string; port: number } {
    const a = this.socket.address()
    return { host: a.address, port: a.port }
  }

  onMessage(handler: (data: Uint8Array, from: RemoteInfo) => void): void {
    this.#onMessage = handler
  }

  send(data: Uint8Array, to: { port: number; address: string }): void {
    this.socket.send(data, to.port, to.address)
  }

  close(): Promise<void> {
    return new Promise((resolve) => this.socket.close(() => resolve()))
  }
}
