import { chmod, readFile, stat, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { createApiServer, createPeerNode } from '@harddrive-party/peer-node'
import { afterEach, describe, expect, it } from 'vitest'
import { loadOrCreateApiToken, tokenMatches } from '../src/api/api-token'
import { Cleanup, loopbackOptions, useMosquitto } from './helpers'

const broker = useMosquitto()
const cleanup = new Cleanup()
afterEach(() => cleanup.run())

describe('API token', () => {
  it('is made once with mode 0600 and read back on the next start', async () => {
    const path = join(await cleanup.dir(), 'api-token')
    const token = await loadOrCreateApiToken(path)
    expect(token).toMatch(/^[0-9a-f]{64}$/)
    expect((await stat(path)).mode & 0o777).toBe(0o600)
    await chmod(path, 0o644)
    expect(await loadOrCreateApiToken(path)).toBe(token)
    expect((await stat(path)).mode & 0o777).toBe(0o600)
    expect((await readFile(path, 'utf8')).trim()).toBe(token)
  })

  it('a file holding something else is BAD_STORAGE, not replaced', async () => {
    const path = join(await cleanup.dir(), 'api-token')
    await writeFile(path, 'hunter2\n')
    await expect(loadOrCreateApiToken(path)).rejects.toMatchObject({ code: 'BAD_STORAGE' })
    expect(await readFile(path, 'utf8')).toBe('hunter2\n')
  })

  it('compares whole tokens only', () => {
    const t = 'a'.repeat(64)
    expect(tokenMatches(t, t)).toBe(true)
    expect(tokenMatches(t.slice(0, 63), t)).toBe(false)
    expect(tokenMatches(`${t}a`, t)).toBe(false)
    expect(tokenMatches('', t)).toBe(false)
  })
})

describe('API server lifecycle', () => {
  it('start twice, stop twice, stop before start; the token survives a restart', async () => {
    const node = createPeerNode(loopbackOptions(await cleanup.dir(), broker.url))
    cleanup.nodes.push(node)
    await node.start()
    const never = createApiServer({ node, port: 0 })
    await never.stop()
    // (Binding beyond loopback is not tried here: tests keep to 127.0.0.0/8.)
    const server = createApiServer({ node, port: 0 })
    await Promise.all([server.start(), server.start()])
    expect(server.exposed).toBe(false)
    const token = server.token
    const res = await fetch(new URL('/api/topics', server.url), {
      method: 'POST',
      headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
      body: '{}',
    })
    expect(res.status).toBe(200)
    await Promise.all([server.stop(), server.stop()])
    await expect(fetch(new URL('/api/topics', server.url), { method: 'POST' })).rejects.toThrow()
    const again = createApiServer({ node, port: 0 })
    await again.start()
    expect(again.token).toBe(token)
    await again.stop()
  })
})
