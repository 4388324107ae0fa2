import type UDX from 'udx-native'
import type { Logger } from './types'

/**
 * UDP receive buffer we ask for. UDX acknowledges from userspace, so a burst of one
 * congestion window (a bandwidth-delay product: 1 MB at 200 Mbit/s and 40 ms) must fit while
 * the event loop is busy; the default (~208 KiB) dropped thousands of packets there (issue 12).
 */
export const RECEIVE_BUFFER_BYTES = 4 * 1024 * 1024

/** What a UDP socket got of {@link RECEIVE_BUFFER_BYTES}. */
export interface ReceiveBufferStatus {
  /** The receive buffer as the kernel reports it (Linux doubles the size asked for). */
  bytes: number
  /** The system capped it below what we asked for (on Linux: `net.core.rmem_max`). */
  capped: boolean
}

/** Asks for a larger receive buffer on a bound socket; logs once when the system caps it. */
export function enlargeReceiveBuffer(socket: UDX.Socket, log: Logger): void {
  try {
    socket.setRecvBufferSize(RECEIVE_BUFFER_BYTES)
  } catch (err) {
    log('could not set the udp receive buffer: %s', (err as Error).message)
    return
  }
  const status = receiveBufferStatus(socket)
  if (status.capped) {
    log(
      'udp receive buffer capped at %d bytes (asked %d); raise net.core.rmem_max for fast links',
      status.bytes,
      RECEIVE_BUFFER_BYTES,
    )
  }
}

export function receiveBufferStatus(socket: UDX.Socket): ReceiveBufferStatus {
  let bytes = 0
  try {
    bytes = socket.getRecvBufferSize()
  } catch {
    // closed socket: report nothing
  }
  // Linux reports twice what it grants (the kernel's bookkeeping overhead).
  const granted = process.platform === 'linux' ? bytes / 2 : bytes
  return { bytes, capped: bytes > 0 && granted < RECEIVE_BUFFER_BYTES }
}
