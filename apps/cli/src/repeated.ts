import { parseArgs } from 'node:util'

/**
 * Every value of a repeatable string option (`--topic a -t b` gives `['a', 'b']`). citty keeps
 * only the last one, so the raw arguments are read again with node's parser.
 */
export function repeated(rawArgs: readonly string[], name: string, short?: string): string[] {
  const { values } = parseArgs({
    args: [...rawArgs],
    options: { [name]: { type: 'string', multiple: true, ...(short ? { short } : {}) } },
    strict: false,
    allowPositionals: true,
  })
  const v = values[name]
  return Array.isArray(v) ? v.filter((x): x is string => typeof x === 'string') : []
}
