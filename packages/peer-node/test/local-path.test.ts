import { execFileSync } from 'node:child_process'
import { mkdir, readdir, symlink, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { afterEach, describe, expect, it } from 'vitest'
import { localName, prepareLocalPath, safeName } from '../src/downloads/local-path'
import { PartFile } from '../src/downloads/part-file'
import { Cleanup } from './helpers'

const mkfifo = async (path: string) => execFileSync('mkfifo', [path])
const cleanup = new Cleanup()
afterEach(() => cleanup.run())

describe('remote names become safe local paths or are refused', () => {
  it('makes unsafe characters, reserved names and part-like names safe, and says so', () => {
    expect(safeName('film.mkv')).toEqual({ name: 'film.mkv' })
    expect(safeName('a:b').name).toBe('a_b')
    expect(safeName('CON').name).toBe('_CON')
    expect(safeName('lpt1.txt').name).toBe('_lpt1.txt')
    expect(safeName('evil\u202egpj.exe').name).toBe('evil_gpj.exe')
    expect(safeName('bell\u0007').name).toBe('bell_')
    expect(safeName('trailing. ').name).toBe('trailing__')
    expect(safeName('x.part').name).toBe('x.part_')
    expect(safeName('a:b').change).toContain('a_b')
  })

  it('refuses names of only dots or spaces, too long, outside the folder, or not share paths', () => {
    for (const name of ['...', ' ', '. .', 'x'.repeat(256)]) {
      expect(() => safeName(name), name).toThrow(expect.objectContaining({ code: 'UNSAFE_NAME' }))
    }
    for (const path of ['music/../etc/passwd', '/etc/passwd', 'other/a', 'music/a\u0000b', '']) {
      expect(() => localName(path, 'music'), path).toThrow(
        expect.objectContaining({ code: 'UNSAFE_NAME' }),
      )
    }
    expect(localName('music/CON/a:b', 'music').segments).toEqual(['music', '_CON', 'a_b'])
  })

  it('never writes through a planted symlink or where a file stands for a folder', async () => {
    const root = await cleanup.dir()
    const outside = await cleanup.dir()
    const dest = join(root, 'peer')
    await mkdir(join(dest, 'music'), { recursive: true })
    await symlink(outside, join(dest, 'music', 'linked'))
    await writeFile(join(dest, 'music', 'file-not-folder'), 'x')
    await symlink(join(outside, 'target'), join(dest, 'music', 'song.flac.part'))
    await symlink(join(outside, 'target'), join(dest, 'music', 'final.flac'))
    await mkdir(join(dest, 'music', 'folder.flac.part'))
    await mkfifo(join(dest, 'music', 'pipe.flac.part'))
    for (const segments of [
      ['music', 'linked', 'a.txt'],
      ['music', 'file-not-folder', 'a.txt'],
      ['music', 'final.flac'],
    ]) {
      await expect(prepareLocalPath(dest, segments)).rejects.toMatchObject({ code: 'UNSAFE_NAME' })
    }
    // The part file refuses a symlink (O_NOFOLLOW), a folder, and a FIFO (without hanging).
    await expect(PartFile.open(join(dest, 'music', 'song.flac'))).rejects.toMatchObject({
      code: 'ELOOP',
    })
    await expect(PartFile.open(join(dest, 'music', 'folder.flac'))).rejects.toMatchObject({
      code: 'EISDIR',
    })
    await expect(PartFile.open(join(dest, 'music', 'pipe.flac'))).rejects.toMatchObject({
      code: 'UNSAFE_NAME',
    })
    const path = await prepareLocalPath(dest, ['music', 'deep', 'er', 'ok.txt'])
    expect(path).toBe(join(dest, 'music', 'deep', 'er', 'ok.txt'))
    expect(await readdir(outside)).toEqual([])
  })
})
