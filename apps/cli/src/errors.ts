import { HdpError } from '@harddrive-party/wire-protocol'

export type CliErrorCode =
  | 'USAGE'
  | 'LOCKED'
  | 'FAILED'
  | 'NO_PEER'
  | 'NOT_FOUND'
  | 'UNAVAILABLE'
  | 'TOKEN_REJECTED'

/** Exit code per error code (README, "Exit codes"): 2 for a command line that cannot be run as written. */
export const EXIT_CODES: Record<CliErrorCode, number> = {
  FAILED: 1,
  LOCKED: 1,
  USAGE: 2,
  NO_PEER: 3,
  NOT_FOUND: 4,
  UNAVAILABLE: 5,
  TOKEN_REJECTED: 6,
}

/** The control API's error codes as the command's own (others are `FAILED`). */
export const API_CODES: Record<string, CliErrorCode> = {
  BAD_REQUEST: 'USAGE',
  NOT_FOUND: 'NOT_FOUND',
  PEER_UNAVAILABLE: 'UNAVAILABLE',
  UNAUTHORIZED: 'TOKEN_REJECTED',
  FORBIDDEN: 'TOKEN_REJECTED',
}

/** An error the command reports as one line on stderr, exiting with its code's exit status. */
export class CliError extends HdpError<CliErrorCode> {
  override name = 'CliError'
}

/** An error's message for a person: without the `CODE: ` prefix HdpError puts in front. */
export function plainMessage(err: unknown): string {
  if (!(err instanceof Error)) return String(err)
  const code = (err as { code?: unknown }).code
  return typeof code === 'string' && err.message.startsWith(`${code}: `)
    ? err.message.slice(code.length + 2)
    : err.message
}
