import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { spawnNode } from '@harddrive-party/test-lab'
import { afterAll, describe, expect, it } from 'vitest'

const cli = join(import.meta.dirname, '../src/cli.ts')
const dir = mkdtempSync(join(tmpdir(), 'hdp-cli-'))
afterAll(() => rmSync(dir, { recursive: true, force: true }))

async function run(...args: string[]) {
  const p = spawnNode(cli, args, { env: { ...process.env, NO_COLOR: '1' } })
  const status = await p.exited
  return { code: status.code, stdout: p.lines.join('\n'), stderr: p.stderr }
}

describe('harddrive-party command', () => {
  it('--help names the start command', async () => {
    const { code, stdout } = await run('--help')
    expect(code).toBe(0)
    expect(stdout).toContain('start')
    expect(stdout).toContain('Peer-to-peer file sharing')
  })

  it('start keeps every repeated --topic and --share-dir', async () => {
    const other = mkdtempSync(join(dir, 'b-'))
    const { code, stdout } = await run(
      'start',
      '--topic',
      'movie night',
      '-t',
      'music club',
      '-s',
      dir,
      '--share-dir',
      other,
    )
    expect(code).toBe(0)
    expect(stdout).toContain('topics: movie night, music club')
    expect(stdout).toContain(`sharing: ${dir}, ${other}`)
  })

  it('start refuses a missing share directory and a bad topic with exit code 2', async () => {
    const missing = await run('start', '--topic', 'x', '--share-dir', join(dir, 'nope'))
    expect(missing.code).toBe(2)
    expect(missing.stderr).toContain(`not a directory: ${join(dir, 'nope')}`)
    const bad = await run('start', '--topic', 'a\u0001b')
    expect(bad.code).toBe(2)
    expect(bad.stderr).toContain('bad topic')
  })
})
