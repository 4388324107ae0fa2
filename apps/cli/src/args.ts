import { parseArgs } from 'node:util'
import type { ArgsDef } from 'citty'
import { CliError } from './errors'

export interface ParsedArgs {
  /** Every value of each string option, in order (options are repeatable here; most use the last). */
  strings: Record<string, string[]>
  /** Booleans given on the command line (`--x` true, `--no-x` false); absent means default. */
  flags: Record<string, boolean>
  positionals: string[]
}

/**
 * Parses the raw arguments strictly against a citty argument definition: an unknown option, a
 * missing value or a value that looks like an option is a `USAGE` error (citty ignores them).
 * citty still renders `--help`; this only decides what the command runs with.
 */
export function parseStrict(rawArgs: readonly string[], def: ArgsDef): ParsedArgs {
  const options: NonNullable<Parameters<typeof parseArgs>[0]>['options'] = {}
  for (const [name, arg] of Object.entries(def)) {
    if (arg.type === 'positional') continue
    const alias = 'alias' in arg ? arg.alias : undefined
    const aliases: string[] = alias === undefined ? [] : Array.isArray(alias) ? alias : [alias]
    const short = aliases.find((a) => a.length === 1)
    const type = arg.type === 'boolean' ? 'boolean' : 'string'
    options[name] = { type, multiple: true, ...(short ? { short } : {}) }
    if (type === 'boolean') options[`no-${name}`] = { type: 'boolean', multiple: true }
  }
  let parsed: ReturnType<typeof parseArgs>
  try {
    parsed = parseArgs({ args: [...rawArgs], options, strict: true, allowPositionals: true })
  } catch (err) {
    // Node's text goes on to explain `--`; the first sentence is the one line a person needs.
    const first = (err as Error).message.split(/\. To specify|\n/)[0] ?? 'bad arguments'
    throw new CliError('USAGE', `${first} (see --help)`)
  }
  const strings: Record<string, string[]> = {}
  const flags: Record<string, boolean> = {}
  for (const [name, value] of Object.entries(parsed.values)) {
    const list = (Array.isArray(value) ? value : [value]) as Array<string | boolean>
    if (typeof list[0] === 'string') strings[name] = list as string[]
    else if (name.startsWith('no-') && !(name in def)) flags[name.slice(3)] = false
    else flags[name] = true
  }
  return { strings, flags, positionals: parsed.positionals }
}

/** The last value of a string option, or `undefined`. */
export function last(args: ParsedArgs, name: string): string | undefined {
  return args.strings[name]?.at(-1)
}

/** A whole number in `[min, max]`, or a `USAGE` error naming the option. */
export function integerOption(text: string, name: string, min: number, max: number): number {
  const n = Number(text)
  if (!/^\d+$/.test(text) || n < min || n > max) {
    throw new CliError(
      'USAGE',
      `--${name} must be a whole number from ${min} to ${max}, got '${text}'`,
    )
  }
  return n
}

/** Bytes per second from `500k`, `2M`, `1.5G` or a plain number; `0` means unlimited. */
export function rateOption(text: string, name: string): number {
  const m = /^(\d+(?:\.\d+)?)\s*([kmg]?)(?:i?b)?(?:\/s)?$/i.exec(text.trim())
  if (!m)
    throw new CliError(
      'USAGE',
      `--${name} must look like 500k, 2M or 1000000 (bytes per second), got '${text}'`,
    )
  const unit = { '': 1, k: 1024, m: 1024 ** 2, g: 1024 ** 3 }[
    m[2]!.toLowerCase() as '' | 'k' | 'm' | 'g'
  ]
  return Math.round(Number(m[1]) * unit)
}

/** `HOST:PORT` with a port in 1..65535, or a `USAGE` error. */
export function hostPortOption(
  text: string,
  name: string,
  minPort = 1,
): { host: string; port: number } {
  const i = text.lastIndexOf(':')
  const host = text.slice(0, i).replace(/^\[|\]$/g, '')
  const port = Number(text.slice(i + 1))
  if (i <= 0 || !Number.isInteger(port) || port < minPort || port > 65535 || host === '') {
    throw new CliError('USAGE', `--${name} must be HOST:PORT, got '${text}'`)
  }
  return { host, port }
}
