import { execFile, execFileSync } from 'node:child_process'
import { promisify } from 'node:util'

const execFileAsync = promisify(execFile)

/** Runs a command to completion; throws with its stderr when it fails. */
export async function run(command: string, args: readonly string[]): Promise<string> {
  try {
    const { stdout } = await execFileAsync(command, args, { maxBuffer: 16 * 1024 * 1024 })
    return stdout
  } catch (err) {
    const e = err as { stderr?: string; message: string }
    throw new Error(`${command} ${args.join(' ')} failed: ${e.stderr?.trim() || e.message}`)
  }
}

export function runSync(command: string, args: readonly string[]): string {
  return execFileSync(command, args, { stdio: ['ignore', 'pipe', 'pipe'] }).toString()
}

export function hasCommand(command: string): boolean {
  try {
    runSync('sh', ['-c', `command -v ${command}`])
    return true
  } catch {
    return false
  }
}
