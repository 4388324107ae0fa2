import { randomBytes } from 'node:crypto'
import type { Logger } from '@harddrive-party/wire-protocol'
import {
  type DatagramSocket,
  formatAddress,
  normalizeHost,
  type SocketAddress,
  sameAddress,
} from './datagram-socket'
import { HolepunchError } from './errors'
import { defaultLogger } from './logger'
import type { StunRetransmitOptions } from './stun-client'
import { isStunMessage, STUN_TRANSACTION_ID_BYTES } from './stun-message'
import {
  ATTR,
  type Attribute,
  boundedText,
  CHANNEL_MAX,
  CHANNEL_MIN,
  decodeChannelData,
  decodeTurnMessage,
  decodeXorAddress,
  encodeChannelData,
  encodeTurnMessage,
  encodeXorAddress,
  errorCodeOf,
  lifetimeOf,
  longTermKey,
  MAX_NONCE_BYTES,
  MAX_REALM_BYTES,
  TURN_METHOD,
  type TurnMessage,
  uint32,
  verifyIntegrity as verifyIntegrityOf,
} from './turn-message'
import type { TurnServer } from './turn-server'
import { TurnTransactions } from './turn-transactions'

export interface TurnClientOptions extends StunRetransmitOptions {
  /** An IP literal (resolve names first), port and long-term credentials. */
  server: TurnServer
  /** Our socket to the server; the client reads only datagrams that come from the server. */
  socket: DatagramSocket
  /** Allocation lifetime asked for, in seconds. Default 600 (RFC 8656's default). */
  lifetimeSec?: number
  /** 401/438 rounds allowed per request before `TURN_UNAUTHORIZED`. Default 3. */
  maxAuthRounds?: number
  /** Data relayed from a peer (ChannelData or a Data indication). */
  onData?: (data: Uint8Array, from: SocketAddress) => void
  /** The allocation ended on its own (a refresh failed). */
  onClose?: (reason: HolepunchError) => void
  log?: Logger
}

/** Permissions last 300 s and channels 600 s (RFC 8656 §9, §12): refreshed well before. */
const PERMISSION_REFRESH_MS = 240_000
const CHANNEL_REFRESH_MS = 300_000
/** Channels we bind at most; further peers use Send/Data indications. */
const MAX_CHANNELS = 64
/** Permissions we hold at most (each is one IP). */
const MAX_PERMISSIONS = 256
/** Peer addresses per CreatePermission request. */
const PERMISSIONS_PER_REQUEST = 8

/**
 * A TURN (RFC 8656) client over UDP: one allocation on one server, long-term credentials,
 * permissions, channels, refreshes. Every answer is untrusted: it must come from the server's
 * address, carry our transaction id, decode within bounds and (after authentication) carry a
 * MESSAGE-INTEGRITY made with our key; anything else is dropped or fails with a typed error.
 */
export class TurnClient {
  readonly #o: TurnClientOptions
  readonly #log: Logger
  readonly #transactions: TurnTransactions
  readonly #permissions = new Set<string>()
  readonly #channels = new Map<string, number>()
  readonly #peersByChannel = new Map<number, SocketAddress>()
  readonly #timers: ReturnType<typeof setTimeout>[] = []
  #unsubscribe: (() => void) | undefined
  #realm: string | undefined
  #nonce: string | undefined
  #key: Uint8Array | undefined
  #nextChannel = CHANNEL_MIN
  #closed: HolepunchError | undefined
  #allocated = false
  relayed: SocketAddress | undefined
  mapped: SocketAddress | undefined
  lifetimeSec = 0

  constructor(options: TurnClientOptions) {
    this.#o = options
    this.#log = options.log ?? defaultLogger('turn')
    this.#transactions = new TurnTransactions(options, this.#log)
    this.#unsubscribe = options.socket.onMessage((data, from) => this.#onMessage(data, from))
  }

  get closed(): boolean {
    return this.#closed !== undefined
  }

  /** Allocates a relayed UDP address; refreshes it at half its lifetime until `close()`. */
  async allocate(): Promise<SocketAddress> {
    const res = await this.#request(TURN_METHOD.allocate, [
      [ATTR.requestedTransport, uint32(17 << 24)], // UDP
      [ATTR.lifetime, uint32(this.#o.lifetimeSec ?? 600)],
      [ATTR.dontFragment, new Uint8Array(0)],
    ])
    this.relayed = decodeXorAddress(
      res.attributes.get(ATTR.xorRelayedAddress),
      res.transactionId,
      'XOR-RELAYED-ADDRESS',
    )
    if (res.attributes.has(ATTR.xorMappedAddress)) {
      this.mapped = decodeXorAddress(
        res.attributes.get(ATTR.xorMappedAddress),
        res.transactionId,
        'XOR-MAPPED-ADDRESS',
      )
    }
    this.lifetimeSec = clampLifetime(lifetimeOf(res) ?? 600)
    this.#allocated = true
    this.#scheduleRefresh()
    this.#every(PERMISSION_REFRESH_MS, () => this.#refreshPermissions())
    this.#every(CHANNEL_REFRESH_MS, () => this.#refreshChannels())
    return this.relayed
  }

  /** Lets these peers' IPs send to the relayed address (any port); kept until `close()`. */
  async permit(hosts: readonly string[]): Promise<void> {
    const fresh = [...new Set(hosts.map(normalizeHost))].filter((h) => !this.#permissions.has(h))
    if (fresh.length === 0) return
    if (this.#permissions.size + fresh.length > MAX_PERMISSIONS) {
      throw new HolepunchError('RATE_LIMITED', `more than ${MAX_PERMISSIONS} TURN permissions`)
    }
    await this.#createPermissions(fresh)
    for (const h of fresh) this.#permissions.add(h)
  }

  /** Binds a channel to `peer` (ChannelData is 4 bytes of overhead instead of 36). */
  async bindChannel(peer: SocketAddress): Promise<number | undefined> {
    const key = formatAddress(peer)
    const known = this.#channels.get(key)
    if (known !== undefined) return known
    if (this.#channels.size >= MAX_CHANNELS || this.#nextChannel > CHANNEL_MAX) return undefined
    const channel = this.#nextChannel++
    await this.#bind(channel, peer)
    this.#channels.set(key, channel)
    this.#peersByChannel.set(channel, { host: normalizeHost(peer.host), port: peer.port })
    return channel
  }

  /** Sends `data` to `peer` through the relay (fire and forget, like UDP). */
  send(peer: SocketAddress, data: Uint8Array): void {
    if (this.#closed !== undefined || !this.#allocated) return
    const channel = this.#channels.get(formatAddress(peer))
    const tid = newTransactionId()
    const out =
      channel !== undefined
        ? encodeChannelData(channel, data)
        : encodeTurnMessage(TURN_METHOD.send, 'indication', tid, [
            [ATTR.xorPeerAddress, encodeXorAddress(peer, tid)],
            [ATTR.data, data],
          ])
    this.#o.socket.send(out, this.#o.server.port, this.#o.server.host).catch((err: unknown) => {
      this.#log('send to the TURN server failed: %O', err)
    })
  }

  /** Deletes the allocation (a Refresh with lifetime 0) and stops every timer. */
  async close(): Promise<void> {
    if (this.#unsubscribe === undefined) return
    // After a failed refresh the allocation is stopped already: nothing to delete then.
    const allocated = this.#allocated
    this.#stop(new HolepunchError('TURN_CLOSED', 'the TURN client was closed'), false)
    if (allocated) {
      await this.#request(TURN_METHOD.refresh, [[ATTR.lifetime, uint32(0)]], true).catch(
        (err: unknown) => this.#log('deallocate failed: %O', err),
      )
    }
    this.#unsubscribe?.()
    this.#unsubscribe = undefined
    this.#transactions.rejectAll(this.#closed!)
  }

  #stop(reason: HolepunchError, notify: boolean): void {
    this.#closed ??= reason
    this.#allocated = false
    for (const t of this.#timers) clearTimeout(t)
    this.#timers.length = 0
    if (notify) this.#o.onClose?.(reason)
  }

  /** Refreshes the allocation now (also done at half its lifetime); resolves with the lifetime. */
  async refresh(): Promise<number> {
    const res = await this.#request(TURN_METHOD.refresh, [
      [ATTR.lifetime, uint32(this.#o.lifetimeSec ?? 600)],
    ])
    this.lifetimeSec = clampLifetime(lifetimeOf(res) ?? this.lifetimeSec)
    return this.lifetimeSec
  }

  #scheduleRefresh(): void {
    const ms = Math.max(15, this.lifetimeSec / 2) * 1000
    const timer = setTimeout(() => {
      this.refresh().then(
        () => {
          if (this.#closed === undefined) this.#scheduleRefresh()
        },
        (err: unknown) => {
          if (this.#closed !== undefined) return
          this.#log.error('TURN refresh failed: %O', err)
          const reason = new HolepunchError('TURN_CLOSED', 'the TURN refresh failed', {
            cause: err,
          })
          this.#stop(reason, true)
        },
      )
    }, ms)
    timer.unref?.()
    this.#timers.push(timer)
  }

  #every(ms: number, work: () => Promise<void>): void {
    const timer = setInterval(() => {
      work().catch((err: unknown) => this.#log('TURN refresh: %O', err))
    }, ms)
    timer.unref?.()
    this.#timers.push(timer)
  }

  async #refreshPermissions(): Promise<void> {
    if (this.#permissions.size > 0) await this.#createPermissions([...this.#permissions])
  }

  async #refreshChannels(): Promise<void> {
    for (const [channel, peer] of this.#peersByChannel) await this.#bind(channel, peer)
  }

  async #createPermissions(hosts: string[]): Promise<void> {
    for (let i = 0; i < hosts.length; i += PERMISSIONS_PER_REQUEST) {
      const attrs: Attribute[] = hosts
        .slice(i, i + PERMISSIONS_PER_REQUEST)
        .map((host) => [ATTR.xorPeerAddress, encodeXorAddress({ host, port: 0 }, ZERO_ID)])
      await this.#request(TURN_METHOD.createPermission, attrs)
    }
  }

  async #bind(channel: number, peer: SocketAddress): Promise<void> {
    const number = new Uint8Array(4)
    new DataView(number.buffer).setUint16(0, channel)
    await this.#request(TURN_METHOD.channelBind, [
      [ATTR.channelNumber, number],
      [ATTR.xorPeerAddress, encodeXorAddress(peer, ZERO_ID)],
    ])
  }

  /**
   * One request with long-term authentication: the first 401 gives realm and nonce, a 438 a
   * new nonce; a 401 to credentials we sent, or more rounds than `maxAuthRounds`, is
   * `TURN_UNAUTHORIZED`. XOR addresses are encoded with a zero id and re-encoded per try.
   */
  async #request(method: number, attrs: Attribute[], closing = false): Promise<TurnMessage> {
    const maxRounds = this.#o.maxAuthRounds ?? 3
    for (let round = 0; ; round++) {
      if (this.#closed !== undefined && !closing) throw this.#closed
      const tid = newTransactionId()
      const auth: Attribute[] =
        this.#key === undefined
          ? []
          : [
              [ATTR.username, utf8(this.#o.server.username)],
              [ATTR.realm, utf8(this.#realm!)],
              [ATTR.nonce, utf8(this.#nonce!)],
            ]
      const withId = attrs.map(([t, v]): Attribute => [t, rexor(t, v, tid)])
      const key = this.#key
      const res = await this.#transactions.start(
        encodeTurnMessage(method, 'request', tid, [...withId, ...auth], key),
        tid,
        key,
        closing,
      )
      if (res.method !== method) throw bad(`answer for method ${res.method}, asked ${method}`)
      if (res.cls === 'success') return res
      const { code, reason } = errorCodeOf(res)
      if (code !== 401 && code !== 438) {
        throw new HolepunchError('TURN_ERROR_RESPONSE', `TURN server answered ${code} ${reason}`)
      }
      if ((code === 401 && key !== undefined) || round + 1 >= maxRounds) {
        throw new HolepunchError(
          'TURN_UNAUTHORIZED',
          `TURN server ${formatAddress(this.#o.server)} refused our credentials (${code} ${reason}, round ${round + 1})`,
        )
      }
      const realm = boundedText(res, ATTR.realm, MAX_REALM_BYTES) ?? this.#realm
      const nonce = boundedText(res, ATTR.nonce, MAX_NONCE_BYTES)
      if (realm === undefined || nonce === undefined) throw bad(`${code} without REALM and NONCE`)
      this.#realm = realm
      this.#nonce = nonce
      this.#key = longTermKey(this.#o.server.username, realm, this.#o.server.password)
    }
  }

  #onMessage(data: Uint8Array, from: SocketAddress): void {
    if (!sameAddress(from, this.#o.server)) return // only the server may speak to this socket
    const channelData = decodeChannelData(data)
    if (channelData !== undefined) {
      const peer = this.#peersByChannel.get(channelData.channel)
      if (peer !== undefined) this.#o.onData?.(channelData.data, peer)
      return
    }
    if (!isStunMessage(data)) return
    const pending = this.#transactions.get(data.subarray(8, 8 + STUN_TRANSACTION_ID_BYTES))
    let message: TurnMessage | undefined
    try {
      message = decodeTurnMessage(data)
    } catch (err) {
      if (pending) pending.reject(err)
      else this.#log('dropped a broken message from the TURN server: %O', err)
      return
    }
    if (message === undefined) return
    if (message.cls === 'indication' && message.method === TURN_METHOD.data) {
      this.#onDataIndication(message)
      return
    }
    if (pending === undefined || message.cls === 'request' || message.cls === 'indication') return
    // A success must prove the server knows our key; errors may not (401), and can only fail us.
    if (message.cls === 'success' && pending.key !== undefined) {
      if (!verifyIntegrityOf(data, message, pending.key)) {
        pending.badIntegrity++
        return
      }
    }
    pending.resolve(message)
  }

  #onDataIndication(message: TurnMessage): void {
    try {
      const peer = decodeXorAddress(
        message.attributes.get(ATTR.xorPeerAddress),
        message.transactionId,
        'XOR-PEER-ADDRESS',
      )
      const data = message.attributes.get(ATTR.data)
      if (data === undefined || !this.#permissions.has(normalizeHost(peer.host))) return
      this.#o.onData?.(data, peer)
    } catch (err) {
      this.#log('dropped a bad Data indication: %O', err)
    }
  }
}

const ZERO_ID = new Uint8Array(STUN_TRANSACTION_ID_BYTES)
const XOR_ATTRS = new Set<number>([ATTR.xorPeerAddress])

/** Re-encodes an XOR address made with a zero transaction id for the real one. */
function rexor(type: number, value: Uint8Array, tid: Uint8Array): Uint8Array {
  if (!XOR_ATTRS.has(type) || value.length < 8) return value
  const out = new Uint8Array(value)
  // Port and the first 4 address bytes are XORed with the cookie only: unchanged.
  for (let i = 8; i < out.length; i++) out[i] = out[i]! ^ tid[i - 8]!
  return out
}

function clampLifetime(sec: number): number {
  return Math.min(3600, Math.max(30, sec))
}

function newTransactionId(): Uint8Array {
  return new Uint8Array(randomBytes(STUN_TRANSACTION_ID_BYTES))
}

function utf8(text: string): Uint8Array {
  return new TextEncoder().encode(text)
}

function bad(message: string): HolepunchError {
  return new HolepunchError('TURN_BAD_RESPONSE', message)
}
