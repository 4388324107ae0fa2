import { TransportError } from './errors'
import type { DatagramSocket } from './types'
import type { DatagramListener, UdxEndpoint } from './udx-endpoint'

/**
 * `transport.socket`: one object across restarts, bound to whichever main socket is live
 * (`current()`), so holepunch and STUN can keep a reference. Its listeners live in `listeners`,
 * which the transport hands to each new main endpoint.
 */
export function mainSocketFacade(
  current: () => UdxEndpoint | undefined,
  listeners: Set<DatagramListener>,
): DatagramSocket {
  return {
    get port() {
      return current()?.port ?? 0
    },
    send(data, port, host, options) {
      const main = current()
      if (main === undefined) {
        return Promise.reject(new TransportError('NOT_STARTED', 'the transport is not started'))
      }
      return main.send(data, port, host, options)
    },
    onMessage(listener) {
      listeners.add(listener)
      return () => {
        listeners.delete(listener)
      }
    },
    close() {
      return Promise.resolve() // the main socket closes with transport.stop()
    },
  }
}
