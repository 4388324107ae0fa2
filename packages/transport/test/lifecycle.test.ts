import { spawnNode } from '@harddrive-party/test-lab'
import { describe, expect, it } from 'vitest'
import { fixture, within } from './helpers'

describe('stop()', () => {
  it('leaves no handles: a process that connects, transfers and stops exits by itself', async () => {
    const child = spawnNode(fixture('lifecycle.ts'), [])
    try {
      expect(await child.waitForLine(/^transferred udx/, { timeoutMs: 30_000 })).toBe(
        'transferred udx true',
      )
      expect(await child.waitForLine(/^transferred tcp/, { timeoutMs: 30_000 })).toBe(
        'transferred tcp true',
      )
      const stopped = await child.waitForLine(/^stopped/, { timeoutMs: 30_000 })
      // Nothing but stdio may be left once both transports have stopped.
      const resources = JSON.parse(stopped.slice('stopped '.length)) as string[]
      expect(
        resources.filter((r) => !['TTYWrap', 'PipeWrap', 'FSReqCallback'].includes(r)),
      ).toEqual([])
      // The fixture never calls process.exit(): it only ends if nothing keeps the loop alive.
      const status = await within(child.exited, 5000, 'exit after stop')
      expect(status).toEqual({ code: 0, signal: null })
    } finally {
      child.kill('SIGKILL')
    }
  })
})
