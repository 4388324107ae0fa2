import { createConnection, createServer, type Server, Socket } from 'node:net'
import { TransportError } from './errors'
import { MAX_CARRIER_MESSAGE_BYTES, MAX_HANDSHAKE_MESSAGE_BYTES } from './noise'
import { TcpMessageReader } from './tcp-reader'

/** Listens on TCP; rejects with the bind error (e.g. `EADDRINUSE`). */
export function listenTcp(port: number, host: string): Promise<Server> {
  return new Promise((resolve, reject) => {
    // Paused: `readAccepted` reads them through a message reader before any byte is read.
    const server = createServer({ noDelay: true, pauseOnConnect: true })
    const onError = (err: Error) => reject(err)
    server.once('error', onError)
    server.listen({ port, host, exclusive: true }, () => {
      server.off('error', onError)
      resolve(server)
    })
  })
}

/** Connects over TCP; aborting `signal` destroys the attempt. */
export function connectTcp(host: string, port: number, signal: AbortSignal): Promise<Socket> {
  signal.throwIfAborted()
  return new Promise((resolve, reject) => {
    const reader = messageReader(true)
    const socket = createConnection({ host, port, noDelay: true, onread: reader.onread })
    reader.attach(socket)
    const cleanup = () => {
      signal.removeEventListener('abort', onAbort)
      socket.off('error', onError)
      socket.off('connect', onConnect)
    }
    const onAbort = () => {
      cleanup()
      socket.destroy()
      reject(signal.reason)
    }
    const onError = (err: Error) => {
      cleanup()
      socket.destroy()
      reject(
        new TransportError('HANDSHAKE_FAILED', `tcp ${host}:${port}: ${err.message}`, {
          cause: err,
        }),
      )
    }
    const onConnect = () => {
      cleanup()
      resolve(socket)
    }
    signal.addEventListener('abort', onAbort, { once: true })
    socket.once('error', onError)
    socket.once('connect', onConnect)
  })
}

/** XX: the initiator receives one handshake message, the acceptor two. */
function messageReader(initiator: boolean): TcpMessageReader {
  return new TcpMessageReader({
    handshakeMessages: initiator ? 1 : 2,
    handshakeBytes: MAX_HANDSHAKE_MESSAGE_BYTES,
    carrierBytes: MAX_CARRIER_MESSAGE_BYTES,
  })
}

/**
 * A socket our listener accepted (paused, nothing read yet), made to read through a
 * {@link TcpMessageReader}. `net.Server` has no `onread` option, so the accepted socket
 * hands its handle over to a socket made with one (node's `handle` option, which the
 * server uses for accepted sockets itself) and is destroyed without closing it. The new
 * socket is not among the server's connections: the transport ends its connections itself.
 * Where node keeps no `_handle`, the accepted socket reads as it is.
 */
export function readAccepted(socket: Socket): Socket {
  const old = socket as unknown as { _handle?: object | null }
  const handle = old._handle
  if (handle === undefined || handle === null) {
    socket.resume()
    return socket
  }
  old._handle = null
  socket.destroy()
  const reader = messageReader(false)
  const options = { handle, readable: true, writable: true, onread: reader.onread }
  const adopted = new Socket(options as ConstructorParameters<typeof Socket>[0])
  reader.attach(adopted)
  return adopted
}
