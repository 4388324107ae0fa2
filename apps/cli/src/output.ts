import pc from 'picocolors'
import prettyBytes from 'pretty-bytes'
import prettyMs from 'pretty-ms'

/** Colours only for a person at a terminal: never when stdout is piped or `NO_COLOR` is set. */
export const useColour = process.stdout.isTTY === true && !process.env.NO_COLOR
export const colours = pc.createColors(useColour)

export const formatBytes = (n: number): string => prettyBytes(n)
export const formatDuration = (ms: number): string => prettyMs(ms, { secondsDecimalDigits: 1 })

/** The first 8 hex digits of a key: enough to tell peers apart when they share a name. */
export const shortKey = (hex: string): string => hex.slice(0, 8)

/**
 * How a peer was reached: the technique and, when it says something more, the carrier (a
 * connection moved from TCP to UDX keeps its technique: `lan (udx)`).
 */
export function reachedVia(used: string | undefined, carrier: string): string {
  return used === undefined || used === carrier ? carrier : `${used} (${carrier})`
}

/** One line on stdout. */
export function say(line: string): void {
  process.stdout.write(`${line}\n`)
}

/** One line on stderr, prefixed with the command's name. */
export function complain(line: string): void {
  process.stderr.write(`harddrive-party: ${line}\n`)
}

/** `1 file`, `2 files`. */
export function plural(n: number, noun: string): string {
  return `${n} ${noun}${n === 1 ? '' : 's'}`
}
