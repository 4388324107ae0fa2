// One `logger` option configures the whole node: the layers under peer-node log through it too,
// their components tagged with the package name.
import type { CreateLogger } from '@harddrive-party/wire-protocol'
import { afterEach, expect, it } from 'vitest'
import { Cleanup, loopbackOptions } from './helpers'

const cleanup = new Cleanup()
afterEach(() => cleanup.run())

it('a custom logger hears peer-node and the layers it composes, each line tagged', async () => {
  const lines: { component: string; level: 'log' | 'error' | 'trace'; text: string }[] = []
  const logger: CreateLogger = (component) => {
    const at =
      (level: 'log' | 'error' | 'trace') =>
      (formatter: string, ...args: unknown[]) => {
        let i = 0
        const text = formatter.replace(/%[sdOoj]/g, () => String(args[i++]))
        lines.push({ component, level, text })
      }
    return Object.assign(at('log'), { error: at('error'), trace: at('trace') })
  }
  const dir = await cleanup.dir()
  const node = cleanup.node(loopbackOptions(dir, 'mqtt://127.0.0.1:1', { mqtt: false, logger }))
  await node.start()
  const port = node.address().port
  await node.stop()
  const heard = (component: string, text: string) =>
    lines.some((l) => l.component === component && l.text.includes(text))
  // transport and index-store (layer 1) and peer-node's own components, all through one option.
  expect(heard('transport:transport', `listening on 127.0.0.1:${port}`)).toBe(true)
  expect(heard('transport:transport', 'stopped')).toBe(true)
  expect(
    lines.some((l) => l.component.startsWith('index-store:') && l.text.includes('opened')),
  ).toBe(true)
  expect(heard('nat', 'NAT unknown')).toBe(true)
  // Every layer line carries its package; peer-node's own do not (they are the node's).
  const layers = new Set(lines.map((l) => l.component.split(':')[0]))
  expect(layers).toContain('transport')
  expect(layers).toContain('index-store')
})
