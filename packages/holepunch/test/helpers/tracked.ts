import { afterEach } from 'vitest'
import { DgramDatagramSocket } from './sockets'
import { UdpServer } from './udp-server'

/**
 * Sockets that close themselves after each test. Call once at the top of a test file; `defer`
 * registers any other clean-up.
 */
export function trackedSockets() {
  const cleanups: Array<() => Promise<unknown>> = []
  afterEach(async () => {
    await Promise.allSettled(cleanups.splice(0).map((c) => c()))
  })
  const defer = (cleanup: () => Promise<unknown>): void => {
    cleanups.push(cleanup)
  }
  return {
    defer,
    /** A node:dgram socket on 127.0.0.1 as a DatagramSocket. */
    async dgram(): Promise<DgramDatagramSocket> {
      const s = await DgramDatagramSocket.bind()
      defer(() => s.close())
      return s
    },
    /** A plain UDP server the test scripts (answers nothing by itself). */
    async udpServer(): Promise<UdpServer> {
      const s = await UdpServer.bind()
      defer(() => s.close())
      return s
    },
  }
}
