// The parts of udx-native 1.21 and @hyperswarm/secret-stream 6.9 this package uses. Both are
// plain CommonJS without types; these declarations follow their README and lib/*.js.

declare module 'udx-native' {
  import type { EventEmitter } from 'node:events'

  namespace UDX {
    interface SocketAddress {
      host: string
      family: number
      port: number
    }

    interface Socket extends EventEmitter {
      readonly udx: UDX
      readonly bound: boolean
      readonly closing: boolean
      readonly streams: Set<Stream>
      address(): SocketAddress | null
      bind(port?: number, host?: string): void
      close(): Promise<void>
      setTTL(ttl: number): void
      getRecvBufferSize(): number
      setRecvBufferSize(size: number): number
      getSendBufferSize(): number
      setSendBufferSize(size: number): number
      send(buffer: Uint8Array, port: number, host?: string, ttl?: number): Promise<boolean>
      trySend(buffer: Uint8Array, port: number, host?: string, ttl?: number): void
      on(event: 'message', listener: (message: Buffer, from: SocketAddress) => void): this
      on(event: 'close' | 'listening' | 'idle' | 'busy', listener: () => void): this
      off(event: string, listener: (...args: never[]) => void): this
    }

    interface StreamOptions {
      /** Return true to drop a packet for this not-yet-connected stream. */
      firewall?: (socket: Socket, port: number, host: string, family: number) => boolean
      framed?: boolean
      seq?: number
    }

    interface Stream extends EventEmitter {
      readonly id: number
      readonly udx: UDX
      readonly socket: Socket | null
      readonly connected: boolean
      readonly destroyed: boolean
      readonly destroying: boolean
      readonly remoteId: number
      readonly remoteHost: string | null
      readonly remotePort: number
      readonly rtt: number
      readonly cwnd: number
      readonly inflight: number
      readonly retransmits: number
      readonly mtu: number
      /** Every packet's bytes sent (UDX header included: 20 per packet; resends count again). */
      readonly bytesTransmitted: number
      readonly packetsTransmitted: number
      /** libudx's BBR bandwidth estimate in bytes per second (a windowed maximum). */
      readonly bbrBandwidth: number
      /** 0 start-up, 1 drain, 2 probe bandwidth, 3 probe RTT. */
      readonly bbrState: number
      readonly rtoCount: number
      readonly fastRecoveries: number
      readonly bytesReceived: number
      connect(socket: Socket, remoteId: number, port: number, host: string): void
      setKeepalive(timeoutMs: number): void
      /** Resolves true once every earlier write is acknowledged (false if destroyed). */
      flush(): Promise<boolean>
      write(data: Uint8Array): boolean
      end(): void
      destroy(err?: Error): void
    }
  }

  class UDX {
    constructor()
    static isIPv4(host: string): boolean
    static isIPv6(host: string): boolean
    static isIP(host: string): number
    createSocket(options?: { ipv6Only?: boolean; reuseAddress?: boolean }): UDX.Socket
    createStream(id: number, options?: UDX.StreamOptions): UDX.Stream
  }

  export = UDX
}

declare module '@hyperswarm/secret-stream' {
  import type { EventEmitter } from 'node:events'
  import type { Duplex } from 'node:stream'

  namespace NoiseSecretStream {
    interface KeyPair {
      publicKey: Uint8Array
      secretKey: Uint8Array
    }
    interface Options {
      pattern?: string
      remotePublicKey?: Uint8Array
      keyPair?: KeyPair
      keepAlive?: number
      autoStart?: boolean
      enableSend?: boolean
    }
  }

  /** A streamx Duplex; only the members used here are declared. */
  class NoiseSecretStream extends EventEmitter {
    constructor(
      isInitiator: boolean,
      rawStream?: EventEmitter | Duplex | null,
      options?: NoiseSecretStream.Options,
    )
    readonly isInitiator: boolean
    readonly publicKey: Uint8Array | null
    readonly remotePublicKey: Uint8Array | null
    readonly handshakeHash: Uint8Array | null
    readonly rawStream: EventEmitter
    readonly opened: Promise<boolean>
    readonly destroyed: boolean
    readonly destroying: boolean
    readonly rawBytesWritten: number
    readonly rawBytesRead: number
    /** A plaintext buffer inside a pre-sized ciphertext buffer: writing it saves one copy. */
    alloc(length: number): Uint8Array
    /** Internal: `alloc()` records these; `_write` encrypts in place when handed `_outgoingPlain`. */
    protected _outgoingWrapped: Uint8Array | null
    protected _outgoingPlain: Uint8Array | null
    /** Internal: the streamx write hook (encrypts one message and writes it to the carrier). */
    protected _write(data: Uint8Array, cb: (err?: Error | null) => void): void
    write(data: Uint8Array): boolean
    end(): void
    destroy(err?: Error): void
    resume(): this
    pause(): this
  }

  export = NoiseSecretStream
}
