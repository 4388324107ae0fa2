import { isHdpError } from '@harddrive-party/wire-protocol'
import { type CommandDef, runCommand, showUsage } from 'citty'
import { CliError, type CliErrorCode, EXIT_CODES, plainMessage } from './errors'
import { EXAMPLES } from './examples'
import { main } from './main'
import { complain } from './output'

/**
 * The entry point. citty defines the commands and renders `--help`; dispatch is done here so
 * that every failure ends as one line on stderr and an exit code (2: the command line itself is
 * wrong; 1: it could not be done). citty's own runner prints usage and exits 1 for both.
 */
async function run(rawArgs: string[]): Promise<void> {
  if (rawArgs.length === 1 && (rawArgs[0] === '--version' || rawArgs[0] === '-v')) {
    process.stdout.write(`${main.meta && 'version' in main.meta ? main.meta.version : ''}\n`)
    return
  }
  // biome-ignore lint/suspicious/noExplicitAny: citty's command types are invariant in their args
  let cmd: CommandDef<any> = main
  // biome-ignore lint/suspicious/noExplicitAny: as above
  let parent: CommandDef<any> | undefined
  let rest = rawArgs
  for (;;) {
    const subs = cmd.subCommands as Record<string, Resolvable<CommandDef>> | undefined
    const name = rest[0]
    if (subs === undefined || name === undefined || name.startsWith('-')) break
    const entry = Object.hasOwn(subs, name) ? subs[name] : undefined
    const sub = typeof entry === 'function' ? await entry() : entry
    if (sub === undefined) throw new CliError('USAGE', `unknown command '${name}' (see --help)`)
    parent = cmd
    cmd = sub
    rest = rest.slice(1)
  }
  if (rest.includes('--help') || rest.includes('-h') || (cmd.subCommands && !cmd.run)) {
    await showUsage(cmd, parent)
    const name = cmd.meta && 'name' in cmd.meta ? cmd.meta.name : undefined
    const example = name ? EXAMPLES[name] : undefined
    if (example) process.stdout.write(`EXAMPLE\n\n${example}\n\n`)
    if (rest.length === 0 && cmd !== main && !cmd.run) process.exitCode = 2
    return
  }
  await runCommand(cmd, { rawArgs: rest })
}

type Resolvable<T> = T | (() => T | Promise<T>)

function fail(err: unknown): void {
  if (err instanceof Error && isHdpError(err) && err.name === 'CliError') {
    complain(plainMessage(err))
    process.exit(EXIT_CODES[(err as CliError).code as CliErrorCode] ?? 1)
  }
  // citty's own checks (a missing positional argument) are usage errors too.
  if (err instanceof Error && err.name === 'CLIError') {
    complain(err.message)
    process.exit(EXIT_CODES.USAGE)
  }
  // Another package's error keeps its code: it is what a bug report needs.
  complain(err instanceof Error ? err.message : String(err))
  process.exit(1)
}

run(process.argv.slice(2)).catch(fail)
