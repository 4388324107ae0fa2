import { type ArgsDef, defineCommand } from 'citty'
import { CLIENT_ARGS, type Connected, connect } from './api-connection'
import { type ParsedArgs, parseStrict } from './args'
import { CliError } from './errors'

export interface ClientCommandSpec<A extends ArgsDef> {
  name: string
  description: string
  args: A
  /** Names of the positional arguments, in order; those ending in `?` may be left out. */
  positionals?: string[]
  run: (args: ParsedArgs, conn: Connected) => Promise<void>
}

/**
 * A command that talks to the running peer through its control API: strict arguments, the
 * storage directory's token, one line and an exit code for every failure.
 */
export function clientCommand<A extends ArgsDef>(spec: ClientCommandSpec<A>) {
  const args = { ...spec.args, ...CLIENT_ARGS } as ArgsDef
  const names = spec.positionals ?? []
  return defineCommand({
    meta: { name: spec.name, description: spec.description },
    args: {
      ...Object.fromEntries(
        names.map((n) => [
          n.replace('?', ''),
          { type: 'positional', required: !n.endsWith('?'), description: '' },
        ]),
      ),
      ...args,
    } as ArgsDef,
    async run({ rawArgs }) {
      const parsed = parseStrict(rawArgs, args)
      const required = names.filter((n) => !n.endsWith('?')).length
      if (parsed.positionals.length < required) {
        throw new CliError(
          'USAGE',
          `${spec.name}: missing ${names[parsed.positionals.length]} (see --help)`,
        )
      }
      if (parsed.positionals.length > names.length) {
        throw new CliError(
          'USAGE',
          `${spec.name}: unexpected argument '${parsed.positionals[names.length]}'`,
        )
      }
      await spec.run(parsed, await connect(parsed))
    },
  })
}

/** Prints one JSON document (for `--json`). */
export function printJson(value: unknown): void {
  process.stdout.write(`${JSON.stringify(value, null, 2)}\n`)
}
