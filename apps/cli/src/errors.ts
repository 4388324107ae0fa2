import { HdpError } from '@harddrive-party/wire-protocol'

export type CliErrorCode = 'USAGE' | 'LOCKED' | 'FAILED'

/** Exit code per error code: 2 for a command line that cannot be run as written. */
export const EXIT_CODES: Record<CliErrorCode, number> = { USAGE: 2, LOCKED: 1, FAILED: 1 }

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
