const HDP_ERROR = Symbol.for('harddrive-party.error')

/**
 * Base of every error thrown by a harddrive-party package. It carries a string `code`
 * that callers branch on. Checks go through {@link isHdpError}, not `instanceof`, so
 * two installed copies of a package still understand each other's errors.
 */
export class HdpError<Code extends string = string> extends Error {
  readonly code: Code
  readonly [HDP_ERROR] = true
  // Subclasses only declare their own name: `override name = 'TransportError'`.
  override name = 'HdpError'

  constructor(code: Code, message: string, options?: { cause?: unknown }) {
    super(`${code}: ${message}`, options)
    this.code = code
  }
}

/**
 * True for an error thrown by any harddrive-party package (any copy of it), and when `name` is
 * given, of that class (`isHdpError(err, 'TransportError')`).
 */
export function isHdpError(err: unknown, name?: string): err is HdpError {
  return (
    typeof err === 'object' &&
    err !== null &&
    (err as Record<symbol, unknown>)[HDP_ERROR] === true &&
    typeof (err as { code?: unknown }).code === 'string' &&
    (name === undefined || (err as { name?: unknown }).name === name)
  )
}

export type WireErrorCode =
  /** A frame header announced more bytes than the limit allows. */
  | 'FRAME_TOO_LARGE'
  /** The bytes are not valid CBOR, or a frame was cut short. */
  | 'MALFORMED'
  /** The CBOR holds a tag (major type 6): the protocol uses none. */
  | 'CBOR_TAG'
  /** The CBOR holds an indefinite-length string, array or map: the protocol uses none. */
  | 'CBOR_INDEFINITE'
  /** CBOR arrays and maps nest deeper than `limits.MAX_CBOR_DEPTH`. */
  | 'CBOR_TOO_DEEP'
  /** The CBOR decoded, but a field is missing, has the wrong type or is out of range. */
  | 'BAD_FIELD'
  /** An announced address's class (loopback, multicast, private…) or port is not allowed for its kind. */
  | 'BAD_ADDRESS'
  /** A path is not a safe share-relative path. */
  | 'BAD_PATH'
  /** The message names a protocol major version we do not speak. */
  | 'UNSUPPORTED_VERSION'
  /** The message type is unknown in this context. */
  | 'UNKNOWN_MESSAGE'
  /** A sealed payload did not open with this key (wrong topic, or tampered). */
  | 'BAD_SEAL'
  /** A signature or proof does not verify. */
  | 'BAD_SIGNATURE'

/** Thrown by every decoder in this package for any untrusted input it refuses. */
export class WireError extends HdpError<WireErrorCode> {
  override name = 'WireError'
}

export function isWireError(err: unknown): err is WireError {
  return isHdpError(err, 'WireError')
}
