import type { Server } from 'node:net'
import UDX from 'udx-native'
import { TransportError } from './errors'
import { enlargeReceiveBuffer } from './receive-buffer'
import { listenTcp } from './tcp-carrier'
import type { Logger } from './types'

/** Tries of a random port (when port 0 was asked) until UDP and TCP are both free on it. */
const BIND_TRIES = 8

/** The sockets a started transport listens on: UDP always, TCP on the same port when it can. */
export interface BoundSockets {
  udx: UDX
  socket: UDX.Socket
  tcp: Server | undefined
}

/**
 * Binds the UDP socket and, when `wantTcp`, a TCP listener on the same port (peers announce one
 * port for both carriers). With port 0, a random port taken by someone else for TCP is given
 * up for another; with a fixed port, TCP that cannot listen is turned off and said.
 */
export async function bindSockets(options: {
  host: string
  port: number
  wantTcp: boolean
  log: Logger
}): Promise<BoundSockets> {
  const { host, port: fixedPort, wantTcp, log } = options
  let lastError: unknown
  for (let attempt = 0; attempt < (fixedPort === 0 ? BIND_TRIES : 1); attempt++) {
    const udx = new UDX()
    const socket = udx.createSocket()
    try {
      socket.bind(fixedPort, host)
    } catch (err) {
      await socket.close()
      throw new TransportError(
        'SOCKET_ERROR',
        `bind udp ${host}:${fixedPort}: ${(err as Error).message}`,
        { cause: err },
      )
    }
    enlargeReceiveBuffer(socket, log)
    const port = socket.address()!.port
    let tcp: Server | undefined
    if (wantTcp) {
      try {
        tcp = await listenTcp(port, host)
      } catch (err) {
        lastError = err
        if (fixedPort === 0) {
          await socket.close()
          continue // someone holds this TCP port: try another random port for both
        }
        log.error(
          'tcp carrier disabled, cannot listen on %s:%d: %s',
          host,
          port,
          (err as Error).message,
        )
      }
    }
    return { udx, socket, tcp }
  }
  throw new TransportError('SOCKET_ERROR', `no port free for both udp and tcp on ${host}`, {
    cause: lastError,
  })
}
