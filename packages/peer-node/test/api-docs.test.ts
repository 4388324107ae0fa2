import { readFileSync } from 'node:fs'
import { join } from 'node:path'
import { API_SERVED_COMMANDS, decodeApiEventJson } from '@harddrive-party/wire-protocol'
import { describe, expect, it } from 'vitest'
import { WebSocket } from 'ws'
import { bearer, raw, useApiPair } from './api-helpers'

const ctx = useApiPair()
const doc = readFileSync(join(import.meta.dirname, '../../../docs/api.md'), 'utf8')

interface Block {
  lang: string
  tag: string
  text: string
}

const blocks: Block[] = [...doc.matchAll(/```(\w+)(?: ([^\n]+))?\n([\s\S]*?)```/g)].map((m) => ({
  lang: m[1] as string,
  tag: m[2] ?? '',
  text: m[3] as string,
}))

/** Each `http` block with the answer block after it. */
const examples = blocks.flatMap((b, i) => {
  const answer = blocks[i + 1]
  return b.lang === 'http' && answer ? [{ request: b, answer }] : []
})

describe('docs/api.md', () => {
  it('has an example for every command and every event kind', () => {
    const commands = examples.map((e) => /\/api\/([\w-]+)/.exec(e.request.text)?.[1])
    for (const c of API_SERVED_COMMANDS) expect(commands, c).toContain(c)
    const events = blocks.filter((b) => b.tag === 'event').map((b) => JSON.parse(b.text).type)
    expect([...new Set(events)].sort()).toEqual(
      ['discovery', 'log', 'nat', 'peer', 'scan', 'shares', 'topics', 'transfer'].sort(),
    )
  })

  it('every event example is a valid event', () => {
    for (const b of blocks.filter((x) => x.tag === 'event')) {
      expect(() => decodeApiEventJson(JSON.parse(b.text)), b.text).not.toThrow()
    }
  })

  it('the WebSocket request example gets the documented answer', async () => {
    const { server } = ctx.pair
    const request = blocks.find((b) => b.tag === 'request')
    const answer = blocks.find((b) => b.tag === 'answer')
    const ws = new WebSocket(`${server.url.replace('http', 'ws')}api/events`, {
      headers: bearer(server),
    })
    const got = new Promise<unknown>((resolve) =>
      ws.on('message', (d) => {
        const m = JSON.parse(String(d)) as { type: string }
        if (m.type === 'result') resolve(m)
      }),
    )
    await new Promise((resolve, reject) => ws.once('open', resolve).once('error', reject))
    ws.send(request?.text ?? '')
    expect(await got).toEqual(JSON.parse(answer?.text ?? ''))
    ws.close()
  })

  it('serves the web UI at / and the ?token= first load sets the cookie', async () => {
    const { server } = ctx.pair
    const res = await raw(server, `/?token=${server.token}`)
    expect(res.status).toBe(200)
    expect(res.headers.get('content-type')).toContain('text/html')
    expect(await res.text()).toContain('harddrive-party')
    expect(res.headers.get('set-cookie')).toContain('hdp_api_token=')
    // Without a token the UI's page still loads (it tells the person where the link is), sets
    // no cookie, and the API itself refuses.
    const bare = await raw(server, '/')
    expect(bare.status).toBe(200)
    expect(bare.headers.get('set-cookie')).toBeNull()
    expect((await raw(server, '/api/info', { method: 'POST' })).status).toBe(401)
  })
  it('every HTTP example runs against a real peer as documented (stop last)', async () => {
    const { server, alice, bob, bobShare } = ctx.pair
    bob.downloads.setLimits({ bytesPerSecond: 64 * 1024 })
    let requestId = ''
    const ordered = [
      ...examples.filter((e) => !e.request.text.includes('/api/stop')),
      ...examples.filter((e) => e.request.text.includes('/api/stop')),
    ]
    for (const { request, answer } of ordered) {
      const text = request.text
        .replaceAll('<alice>', alice.name)
        .replaceAll('<dir>', bobShare)
        .replaceAll('<request-id>', requestId)
      const [head, body = ''] = text.split('\n\n')
      const [line, ...headerLines] = (head as string).trim().split('\n')
      const [method, path] = (line as string).split(' ') as [string, string]
      const headers: Record<string, string> = { ...bearer(server) }
      for (const h of headerLines) {
        const [k, v] = h.split(': ')
        headers[(k as string).toLowerCase()] = v as string
      }
      if (method === 'POST') headers['content-type'] = 'application/json'
      const res = await raw(server, path, {
        method,
        headers,
        ...(method === 'POST' ? { body: body.trim() } : {}),
      })
      const what = `${method} ${path} ${body.trim()}`
      expect(res.status, what).toBe(Number(answer.tag))
      if (answer.lang === 'json') {
        const got = (await res.json()) as Record<string, unknown>
        const want = JSON.parse(answer.text) as Record<string, unknown>
        expect(Object.keys(got).sort(), what).toEqual(Object.keys(want).sort())
        if ('error' in want)
          expect(got.error).toMatchObject({ code: (want.error as { code: string }).code })
        const req = got.request as { id?: string } | undefined
        if (path === '/api/download' && req?.id) requestId = req.id
      } else if (answer.lang === 'ndjson') {
        const lines = (await res.text())
          .trim()
          .split('\n')
          .map((l) => JSON.parse(l) as { type: string })
        const types = answer.text
          .trim()
          .split('\n')
          .map((l) => (JSON.parse(l) as { type: string }).type)
        expect(lines.at(-1)?.type, what).toBe('end')
        for (const l of lines) expect(types, what).toContain(l.type)
        expect(Object.keys(lines[0] ?? {}).sort(), what).toEqual(
          Object.keys(JSON.parse(answer.text.trim().split('\n')[0] as string)).sort(),
        )
      } else {
        await res.arrayBuffer()
        for (const h of answer.text.trim().split('\n')) {
          const [k, v] = h.split(': ') as [string, string]
          expect(res.headers.get(k), `${what} ${k}`).toBe(v)
        }
      }
    }
    expect(requestId).not.toBe('')
    // `stop` stopped the node after answering.
    await expect.poll(() => bob.topics().length, { timeout: 10_000 }).toBe(0)
  }, 90_000)
})
