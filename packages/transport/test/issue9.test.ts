import { connect, type Socket } from 'node:net'
import { createHelloProof } from '@harddrive-party/wire-protocol/internal'
import NoiseSecretStream from '@hyperswarm/secret-stream'
import { describe, expect, it } from 'vitest'
import { encodeHelloPayload } from '../src/hello'
import { type Carrier, type Connection, createIdentity, type Transport } from '../src/index'
import { encodeFrame, FrameType } from '../src/mux-frame'
import { MuxStream } from '../src/mux-stream'
import { loopback, readAll, serveEcho, startTransport, topic, within } from './helpers'

// Regression tests for issue 9 ("Harden transport"): each attacker speaks the real protocol
// over the real TCP carrier. Heap figures are printed so the closing note can quote them.

const MiB = 1024 * 1024
const heap = () => {
  const m = process.memoryUsage()
  return m.heapUsed + m.arrayBuffers
}
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms))

/** The victim's side of the attacker's connection, accepted but never read. */
function victimSide(b: Transport) {
  let victim: Connection | undefined
  b.addEventListener('connection', (event) => {
    victim = event.detail
  })
  return {
    closeCode: async () => {
      await within(
        (async () => {
          while (victim?.closeReason === undefined) await sleep(20)
        })(),
        5000,
        'victim closes the connection',
      )
      return (victim!.closeReason as { code?: string }).code
    },
  }
}

/** Completes Noise over TCP with a random key; optionally sends a valid hello; never reads. */
async function attacker(b: Transport, options: { hello: boolean; localAddress?: string }) {
  const identity = createIdentity()
  const socket = connect({
    host: '127.0.0.1',
    port: b.address().port,
    localAddress: options.localAddress,
  })
  const noise = new NoiseSecretStream(true, socket, {
    keyPair: {
      publicKey: Buffer.from(identity.publicKey),
      secretKey: Buffer.from(identity.secretKey),
    },
  })
  noise.on('error', () => {})
  let closed = false
  noise.once('close', () => {
    closed = true
  })
  expect(await noise.opened).toBe(true)
  if (options.hello) {
    const proof = createHelloProof(await topic(), {
      role: 'dialer',
      dialerKey: identity.publicKey,
      acceptorKey: b.publicKey,
      binding: noise.handshakeHash!,
    })
    noise.write(encodeFrame(FrameType.HELLO, 0, encodeHelloPayload(proof, undefined)))
    await sleep(100) // the victim answers and opens the session
  }
  socket.pause() // never read again: the victim's replies pile up on its side
  /** Writes `message` (respecting our own backpressure) until `ms` pass or the victim hangs up. */
  const flood = async (message: Uint8Array, ms: number, maxMessages = Number.POSITIVE_INFINITY) => {
    const until = performance.now() + ms
    let sent = 0
    while (!closed && performance.now() < until && sent < maxMessages) {
      sent++
      if (!noise.write(message)) {
        await Promise.race([new Promise((r) => noise.once('drain', r)), sleep(50)])
      }
      if (sent % 64 === 0) await new Promise((r) => setImmediate(r))
    }
    return sent
  }
  /** The victim hangs up after a grace period; wait for it (bounded). */
  const waitClosed = async (ms: number) => {
    const until = performance.now() + ms
    while (!closed && performance.now() < until) await sleep(50)
    return closed
  }
  return { noise, socket, flood, waitClosed, isClosed: () => closed }
}

/** `count` copies of one frame in one message. */
function repeat(frame: Uint8Array, count: number): Uint8Array {
  const out = new Uint8Array(frame.length * count)
  for (let i = 0; i < count; i++) out.set(frame, i * frame.length)
  return out
}

describe('issue 9: hardening', () => {
  it('issue 9.1: a PING flood before the hello from a non-reading peer is refused, heap bounded', async () => {
    const b = await startTransport()
    const before = heap()
    const peer = await attacker(b, { hello: false })
    const pings = repeat(encodeFrame(FrameType.PING, 0, new Uint8Array(8)), 4096)
    let peak = 0
    const watch = setInterval(() => {
      peak = Math.max(peak, heap() - before)
    }, 20)
    const sent = await peer.flood(pings, 3000)
    clearInterval(watch)
    console.log(
      `9.1 pre-hello: ${sent} messages (${sent * 4096} pings), peak heap +${(peak / MiB).toFixed(1)} MiB, closed ${peer.isClosed()}`,
    )
    expect(peer.isClosed()).toBe(true)
    expect(peak).toBeLessThan(64 * MiB)
    peer.socket.destroy()
  })

  it('issue 9.1: after the hello, a PING flood from a non-reading peer stays bounded and is closed', async () => {
    const b = await startTransport({ idleTimeoutMs: 1500 })
    serveEcho(b)
    const peer = await attacker(b, { hello: true })
    const before = heap()
    // Echoed bytes we never read fill the socket buffers, so the victim has output waiting.
    for (let id = 1; id < 128; id += 2) {
      peer.noise.write(encodeFrame(FrameType.OPEN, id))
      peer.noise.write(encodeFrame(FrameType.DATA, id, new Uint8Array(128 * 1024)))
    }
    const pings = repeat(encodeFrame(FrameType.PING, 0, new Uint8Array(8)), 4096)
    let peak = 0
    const watch = setInterval(() => {
      peak = Math.max(peak, heap() - before)
    }, 20)
    const sent = await peer.flood(pings, 5000)
    await peer.waitClosed(3000)
    clearInterval(watch)
    console.log(
      `9.1 post-hello: ${sent} messages (${sent * 4096} pings), peak heap +${(peak / MiB).toFixed(1)} MiB, closed ${peer.isClosed()}`,
    )
    expect(peak).toBeLessThan(64 * MiB)
    expect(peer.isClosed()).toBe(true)
    peer.socket.destroy()
  })

  it('issue 9.1: refusals to a non-reading peer that opens streams without end are bounded', async () => {
    const b = await startTransport()
    const victim = victimSide(b)
    const peer = await attacker(b, { hello: true })
    const before = heap()
    let peak = 0
    const watch = setInterval(() => {
      peak = Math.max(peak, heap() - before)
    }, 20)
    // Each OPEN past the 256th is answered with a RESET (refused) that we never read.
    let id = 1
    for (let m = 0; m < 128 && !peer.isClosed(); m++) {
      const opens = new Uint8Array(9 * 4096)
      for (let i = 0; i < 4096; i++, id += 2) opens.set(encodeFrame(FrameType.OPEN, id), i * 9)
      await peer.flood(opens, 1000, 1)
    }
    const code = await victim.closeCode()
    clearInterval(watch)
    console.log(
      `9.1 refused opens: ${(id - 1) / 2} opens, peak heap +${(peak / MiB).toFixed(1)} MiB, victim closed with ${code}`,
    )
    expect(code).toBe('PROTOCOL_ERROR')
    expect(peak).toBeLessThan(64 * MiB)
    peer.socket.destroy()
  })

  it('issue 9.2: zero-length DATA frames are refused, heap bounded', async () => {
    const b = await startTransport()
    const victim = victimSide(b)
    const peer = await attacker(b, { hello: true })
    peer.noise.write(encodeFrame(FrameType.OPEN, 1))
    const before = heap()
    const empty = repeat(encodeFrame(FrameType.DATA, 1), 16_384) // 147 KB per message
    const sent = await peer.flood(empty, 3000, 64) // ~1 M empty frames
    await sleep(300)
    const grown = heap() - before
    console.log(
      `9.2 empty DATA: ${sent * 16_384} frames, heap +${(grown / MiB).toFixed(1)} MiB, closed ${peer.isClosed()}`,
    )
    expect(await victim.closeCode()).toBe('PROTOCOL_ERROR')
    expect(grown).toBeLessThan(32 * MiB)
    peer.socket.destroy()
  })

  it('issue 9.2: 1-byte DATA frames on many unread streams cost about the window, not 100x', async () => {
    const b = await startTransport()
    const victim = victimSide(b)
    const peer = await attacker(b, { hello: true })
    const streams = 16
    // Within today's window (256 KiB of payload); the fix charges each frame's overhead too.
    const perStream = 64 * 1024
    const before = heap()
    let sent = 0
    for (let s = 0; s < streams && !peer.isClosed(); s++) {
      const id = 1 + 2 * s
      peer.noise.write(encodeFrame(FrameType.OPEN, id))
      const frames = repeat(encodeFrame(FrameType.DATA, id, Uint8Array.of(7)), 8192)
      sent += await peer.flood(frames, 5000, perStream / 8192)
    }
    await sleep(300)
    const grown = heap() - before
    console.log(
      `9.2 1-byte DATA: ${sent * 8192} frames on ${streams} streams, heap +${(grown / MiB).toFixed(1)} MiB, closed ${peer.isClosed()}`,
    )
    // 16 windows of 256 KiB are 4 MiB; the rest is garbage of both ends' crypto not yet
    // collected. The frame charge makes 64 Ki frames overrun a window: refused.
    expect(grown).toBeLessThan(48 * MiB)
    expect(await victim.closeCode()).toBe('PROTOCOL_ERROR')
    peer.socket.destroy()
  })

  for (const carrier of ['tcp', 'udx'] as Carrier[]) {
    it(`issue 9.4: a stream the acceptor opens in its connection handler reaches the dialer (${carrier})`, async () => {
      const a = await startTransport()
      const b = await startTransport()
      b.addEventListener('connection', (event) => {
        void (async () => {
          const stream = await event.detail.openStream()
          await stream.write(new TextEncoder().encode('first'))
          await stream.end()
          for await (const _ of stream) {
            // drain the dialer's side so the stream finishes
          }
        })().catch(() => {})
      })
      const connection = await a.dial(loopback(b), b.publicKey, {
        topic: await topic(),
        carriers: [carrier],
      })
      const streams = connection.incomingStreams()[Symbol.asyncIterator]()
      const next = await within(streams.next(), 5000, 'acceptor stream')
      expect(next.done).toBe(false)
      const stream = next.value
      await stream.end()
      expect(new TextDecoder().decode(await readAll(stream))).toBe('first')
      expect(connection.closeReason).toBeUndefined()
    })
  }

  it('issue 9.6: 256 TCP connections declaring a 16 MiB first message reserve no 4 GiB', async () => {
    const b = await startTransport({ handshakeTimeoutMs: 5000 })
    const before = process.memoryUsage().arrayBuffers
    const sockets: Socket[] = []
    for (let i = 0; i < 256; i++) {
      const socket = connect({
        host: '127.0.0.1',
        port: b.address().port,
        localAddress: `127.0.1.${1 + (i % 32)}`,
      })
      socket.on('error', () => {})
      // secret-stream's length prefix: 3 bytes little-endian, then the first body byte.
      socket.on('connect', () => socket.write(Uint8Array.of(0xff, 0xff, 0xff, 0x00)))
      sockets.push(socket)
    }
    await sleep(1000)
    const grown = process.memoryUsage().arrayBuffers - before
    console.log(`9.6: 256 connections, arrayBuffers +${(grown / MiB).toFixed(1)} MiB`)
    for (const socket of sockets) socket.destroy()
    expect(grown).toBeLessThan(64 * MiB)
  })
})

describe('issue 9.2: queues drain in linear time', () => {
  const host = {
    markReady() {},
    sendControl() {},
    forget() {},
    windowGrew() {},
    windowMayGrow: true,
    windowShouldShrink: false,
    earlyGrants: false,
    windowFloorBytes: 256 * 1024,
    rttSamples: 0,
  }

  it('issue 9.2: 200,000 one-byte writes leave a stream in linear time', async () => {
    const stream = new MuxStream(1, host)
    const chunk = Uint8Array.of(1)
    for (let i = 0; i < 200_000; i++) void stream.write(chunk)
    stream.receiveWindow(2 ** 31)
    const started = performance.now()
    let taken = 0
    while (stream.sendable > 0) {
      const n = Math.min(stream.sendable, 16 * 1024)
      stream.take(n)
      taken += n
    }
    const ms = performance.now() - started
    console.log(`9.2 send-queue drain: ${taken} one-byte chunks in ${ms.toFixed(0)} ms`)
    expect(taken).toBe(200_000)
    // Linear: tens of ms. Quadratic would be minutes; the bound leaves room for a loaded machine.
    expect(ms).toBeLessThan(5000)
  })

  it('issue 9.2: one-byte frames up to the window are queued compactly and drain fast', async () => {
    const stream = new MuxStream(2, host)
    const before = heap()
    let frames = 0
    while (frames < 300_000 && stream.receiveData(Uint8Array.of(frames & 0xff))) frames++
    const queued = heap() - before
    const started = performance.now()
    let bytes = 0
    const reader = stream[Symbol.asyncIterator]()
    for (let i = 0; i < frames && bytes < frames; i++) {
      const next = await reader.next()
      bytes += (next.value as Uint8Array).length
    }
    const ms = performance.now() - started
    console.log(
      `9.2 receive queue: ${frames} frames accepted, heap +${(queued / MiB).toFixed(1)} MiB, drained in ${ms.toFixed(0)} ms`,
    )
    expect(bytes).toBe(frames)
    expect(queued).toBeLessThan(8 * MiB)
    // Linear: tens of ms. Quadratic would be minutes; the bound leaves room for a loaded machine.
    expect(ms).toBeLessThan(5000)
  })
})
