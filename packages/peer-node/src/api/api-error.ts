import type { Logger } from '@harddrive-party/wire-protocol'
import {
  API_ERROR_CODES,
  API_ERROR_STATUS,
  type ApiErrorCode,
  HdpError,
  isHdpError,
} from '@harddrive-party/wire-protocol'

/** An error of the control API: its `code` is one of wire-protocol's `API_ERROR_CODES`. */
export class ApiError extends HdpError<ApiErrorCode> {
  override name = 'ApiError'

  /** The HTTP status this code is answered with. */
  get status(): number {
    return API_ERROR_STATUS[this.code]
  }
}

/** True for an {@link ApiError} from any installed copy of this package. */
export function isApiError(err: unknown): err is ApiError {
  return isHdpError(err, 'ApiError')
}

/** The API code each package's error codes are answered with (anything else is `INTERNAL`). */
const CODE_MAP: Record<string, ApiErrorCode> = {
  // wire-protocol (validation of the request itself)
  'WireError:*': 'BAD_REQUEST',
  // peer-node (a remote peer's answer, or our connection to it)
  'PeerNodeError:NOT_FOUND': 'NOT_FOUND',
  'PeerNodeError:BAD_REQUEST': 'BAD_REQUEST',
  'PeerNodeError:BAD_PATH': 'BAD_REQUEST',
  'PeerNodeError:INVALID_OPTIONS': 'BAD_REQUEST',
  'PeerNodeError:CHANGED': 'CONFLICT',
  'PeerNodeError:TOO_LARGE': 'TOO_LARGE',
  'PeerNodeError:BUSY': 'BUSY',
  'PeerNodeError:FORBIDDEN': 'FORBIDDEN',
  'PeerNodeError:UNSUPPORTED_VERSION': 'UNSUPPORTED_VERSION',
  'PeerNodeError:NOT_CONNECTED': 'PEER_UNAVAILABLE',
  'PeerNodeError:INTERRUPTED': 'PEER_UNAVAILABLE',
  'PeerNodeError:BAD_RESPONSE': 'PEER_UNAVAILABLE',
  'PeerNodeError:INTERNAL': 'PEER_UNAVAILABLE',
  'PeerNodeError:NOT_STARTED': 'BUSY',
  'PeerNodeError:UNKNOWN_DOWNLOAD': 'NOT_FOUND',
  'PeerNodeError:UNSAFE_NAME': 'BAD_REQUEST',
  'PeerNodeError:DISK_FULL': 'BUSY',
  // index-store (our shares)
  'IndexStoreError:NOT_FOUND': 'NOT_FOUND',
  'IndexStoreError:UNKNOWN_SHARE': 'NOT_FOUND',
  'IndexStoreError:BAD_PATH': 'BAD_REQUEST',
  'IndexStoreError:BAD_QUERY': 'BAD_REQUEST',
  'IndexStoreError:BAD_CURSOR': 'BAD_REQUEST',
  'IndexStoreError:INVALID_OPTIONS': 'BAD_REQUEST',
  'IndexStoreError:BAD_SHARE_DIR': 'BAD_REQUEST',
  'IndexStoreError:NOT_A_FILE': 'BAD_REQUEST',
  'IndexStoreError:SHARE_OVERLAP': 'CONFLICT',
  'IndexStoreError:OUTSIDE_SHARE': 'FORBIDDEN',
  'IndexStoreError:UNREADABLE': 'FORBIDDEN',
  'IndexStoreError:CLOSED': 'BUSY',
  'IndexStoreError:UNKNOWN_REQUEST': 'NOT_FOUND',
  'IndexStoreError:DUPLICATE_REQUEST': 'CONFLICT',
  'IndexStoreError:INVALID_STATE': 'CONFLICT',
  'IndexStoreError:BAD_REQUEST': 'BAD_REQUEST',
}

/**
 * The one place (style rule H11) where anything thrown while answering a controller becomes
 * `{ code, message, status }`. Unknown errors become `INTERNAL` with a fixed message (the stack
 * is logged here, never sent: it may name local paths).
 */
export function toApiError(err: unknown, log?: Logger): ApiError {
  if (isApiError(err)) return err
  if (isHdpError(err)) {
    const code = CODE_MAP[`${err.name}:${err.code}`] ?? CODE_MAP[`${err.name}:*`]
    if (code !== undefined) return new ApiError(code, stripCode(err), { cause: err })
  }
  if (err instanceof DOMException && (err.name === 'AbortError' || err.name === 'TimeoutError')) {
    return new ApiError('PEER_UNAVAILABLE', err.message, { cause: err })
  }
  log?.error('internal error answering a controller: %s', (err as Error)?.stack ?? String(err))
  return new ApiError('INTERNAL', 'internal error (see the peer log)', { cause: err })
}

/** The message sent to a controller: without the leading code (the `code` field says it). */
export function publicMessage(err: HdpError): string {
  return stripCode(err)
}

/** `HdpError` messages start with their code; the API's `code` field already says it. */
function stripCode(err: HdpError): string {
  const prefix = `${err.code}: `
  return err.message.startsWith(prefix) ? err.message.slice(prefix.length) : err.message
}

/** An API error code read from a server's answer (unknown codes become `INTERNAL`). */
export function apiErrorCode(value: unknown): ApiErrorCode {
  return typeof value === 'string' && (API_ERROR_CODES as readonly string[]).includes(value)
    ? (value as ApiErrorCode)
    : 'INTERNAL'
}
