import { createConnection, createServer, type Server, type Socket } from 'node:net'
import { TransportError } from './errors'

/** Listens on TCP; rejects with the bind error (e.g. `EADDRINUSE`). */
export function listenTcp(port: number, host: string): Promise<Server> {
  return new Promise((resolve, reject) => {
    const server = createServer({ noDelay: true, pauseOnConnect: false })
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
    const socket = createConnection({ host, port, noDelay: true })
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
