// Just enough of udx-native's surface (it ships no types) for the tests, fixtures and benchmark.
declare module 'udx-native' {
  import type { EventEmitter } from 'node:events'
  import type { Duplex } from 'node:stream'

  export interface UDXAddress {
    host: string
    family: number
    port: number
  }

  export class UDXSocket extends EventEmitter {
    bind(port?: number, host?: string): void
    address(): UDXAddress | null
    send(buffer: Uint8Array, port: number, host: string, ttl?: number): Promise<boolean>
    trySend(buffer: Uint8Array, port: number, host: string, ttl?: number): void
    close(): Promise<void>
    readonly closing: boolean
    on(event: 'message', listener: (buffer: Buffer, from: UDXAddress) => void): this
    on(event: string, listener: (...args: unknown[]) => void): this
    off(event: 'message', listener: (buffer: Buffer, from: UDXAddress) => void): this
    off(event: string, listener: (...args: unknown[]) => void): this
  }

  export interface UDXStream extends Duplex {
    readonly id: number
    readonly remoteId: number
    readonly connected: boolean
    connect(socket: UDXSocket, remoteId: number, port: number, host: string): void
  }

  export default class UDX {
    createSocket(options?: { ipv6Only?: boolean; reuseAddress?: boolean }): UDXSocket
    createStream(
      id: number,
      options?: { firewall?: (socket: UDXSocket, port: number, host: string) => boolean },
    ): UDXStream
  }
}
