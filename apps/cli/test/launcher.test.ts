import { execFile } from 'node:child_process'
import { readFile } from 'node:fs/promises'
import { join } from 'node:path'
import { promisify } from 'node:util'
import { describe, expect, it } from 'vitest'

const launcher = join(import.meta.dirname, '../bin/hdp.cjs')

describe('the command launcher (bin/hdp.cjs)', () => {
  it('is what the package installs as its commands, and runs the built CLI', async () => {
    const pkg = JSON.parse(await readFile(join(import.meta.dirname, '../package.json'), 'utf8'))
    expect(pkg.bin).toEqual({ 'harddrive-party': './bin/hdp.cjs', hdp: './bin/hdp.cjs' })
    const { stdout } = await promisify(execFile)(process.execPath, [launcher, '--version'])
    expect(stdout.trim()).toBe(pkg.version)
  })

  it('sizes the thread pool before anything else runs, and keeps a size the user set', async () => {
    const source = await readFile(launcher, 'utf8')
    const code = source
      .split('\n')
      .filter((l) => l.trim() !== '' && !l.startsWith('#!') && !l.trim().startsWith('//'))
    expect(code[0]).toBe("process.env.UV_THREADPOOL_SIZE ??= '16'")
  })
})
