import { describe, expect, it } from 'vitest'
import { WebSocket } from 'ws'
import { bearer, raw, rawPath, useApiPair } from './api-helpers'
import { waitUntil } from './helpers'

const ctx = useApiPair()

/** Everything an attack could have changed: topics and shares. */
function snapshot() {
  const { bob } = ctx.pair
  return { topics: bob.topics(), shares: bob.store.shares.list().map((s) => s.name) }
}

async function attack(
  headers: Record<string, string>,
  path = '/api/join',
  body = '{"topic":"evil"}',
) {
  const before = snapshot()
  const res = await raw(ctx.pair.server, path, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...headers },
    body,
  })
  const answer = (await res.json()) as { error: { code: string } }
  expect(snapshot()).toEqual(before)
  return { status: res.status, code: answer.error.code }
}

describe('control API: who may call it', () => {
  it('no token -> 401', async () => {
    expect(await attack({})).toEqual({ status: 401, code: 'UNAUTHORIZED' })
  })

  it('a wrong token -> 401', async () => {
    expect(await attack({ authorization: `Bearer ${'0'.repeat(64)}` })).toEqual({
      status: 401,
      code: 'UNAUTHORIZED',
    })
    expect(await attack({ authorization: 'Basic abc' })).toEqual({
      status: 401,
      code: 'UNAUTHORIZED',
    })
  })

  it('the token in the wrong place (POST query, body, other header) -> 401', async () => {
    const token = ctx.pair.server.token
    expect(await attack({}, `/api/join?token=${token}`)).toEqual({
      status: 401,
      code: 'UNAUTHORIZED',
    })
    expect(await attack({}, '/api/join', JSON.stringify({ topic: 'evil', token }))).toEqual({
      status: 401,
      code: 'UNAUTHORIZED',
    })
    expect(await attack({ 'x-token': token })).toEqual({ status: 401, code: 'UNAUTHORIZED' })
  })

  it('a foreign Origin, even with the token (or the cookie) -> 403', async () => {
    const { server } = ctx.pair
    expect(await attack({ ...bearer(server), origin: 'https://evil.example' })).toEqual({
      status: 403,
      code: 'FORBIDDEN',
    })
    expect(await attack({ ...bearer(server), origin: 'null' })).toEqual({
      status: 403,
      code: 'FORBIDDEN',
    })
    expect(
      await attack({
        cookie: `hdp_api_token=${server.token}`,
        origin: 'http://127.0.0.1.evil.example:1',
      }),
    ).toEqual({ status: 403, code: 'FORBIDDEN' })
  })

  it('a rebinding Host -> 403', async () => {
    const { server } = ctx.pair
    const port = new URL(server.url).port
    for (const host of [`evil.example:${port}`, 'evil.example', `127.0.0.1:${Number(port) + 1}`]) {
      const before = snapshot()
      const res = await rawPath(server, '/api/topics', { ...bearer(server), host }, 'POST')
      expect(res.status, host).toBe(403)
      expect(snapshot()).toEqual(before)
    }
  })

  it('the browser flow: ?token= on GET sets an HttpOnly cookie that then works', async () => {
    const { server } = ctx.pair
    const first = await raw(server, `/api/nothing?token=${server.token}`)
    const cookie = first.headers.get('set-cookie') ?? ''
    expect(cookie).toContain('HttpOnly')
    expect(cookie).toContain('SameSite=Strict')
    const res = await raw(server, '/api/topics', {
      method: 'POST',
      headers: {
        cookie: cookie.split(';')[0] ?? '',
        'content-type': 'application/json',
        origin: server.url.slice(0, -1),
      },
      body: '{}',
    })
    expect(res.status).toBe(200)
  })

  it('WebSocket: no token 401, foreign Origin 403, the token in the query works', async () => {
    const { server } = ctx.pair
    const wsUrl = `${server.url.replace('http', 'ws')}api/events`
    const statusOf = (url: string, headers: Record<string, string>) =>
      new Promise<number>((resolve) => {
        const ws = new WebSocket(url, { headers })
        ws.on('unexpected-response', (_req, res) => resolve(res.statusCode ?? 0))
        ws.on('open', () => {
          ws.close()
          resolve(101)
        })
        ws.on('error', () => {})
      })
    expect(await statusOf(wsUrl, {})).toBe(401)
    expect(await statusOf(wsUrl, { ...bearer(server), origin: 'https://evil.example' })).toBe(403)
    expect(await statusOf(`${wsUrl}?token=${server.token}`, {})).toBe(101)
  })

  it('an oversized body -> 413, a non-JSON body -> 400, nothing changed', async () => {
    const { server } = ctx.pair
    const big = JSON.stringify({ topic: 'x'.repeat(70_000) })
    expect(await attack(bearer(server), '/api/join', big)).toEqual({
      status: 413,
      code: 'TOO_LARGE',
    })
    expect(await attack(bearer(server), '/api/join', '{"topic":')).toEqual({
      status: 400,
      code: 'BAD_REQUEST',
    })
    expect(await attack(bearer(server), '/api/join', '[1,2]')).toEqual({
      status: 400,
      code: 'BAD_REQUEST',
    })
    expect(await attack(bearer(server), '/api/join', '{"__proto__":{"topic":"evil"}}')).toEqual({
      status: 400,
      code: 'BAD_REQUEST',
    })
  })
})

describe('control API under hostile load', () => {
  it('1,000 malformed requests and 1,000 malformed frames: still serving, RSS bounded', async () => {
    const { server, client } = ctx.pair
    const before = snapshot()
    global.gc?.()
    const rssBefore = process.memoryUsage().rss
    const bodies = [
      '{',
      'null',
      '"x"',
      '{"topic":5}',
      '{"topic":"a\\u0000b"}',
      JSON.stringify({ topic: 'y'.repeat(60_000) }),
      '{"peer":"","path":"../x"}',
      '{"path":"/etc/passwd"}',
      '{"cursor":"zz","path":""}',
      '{"limit":-1,"path":""}',
    ]
    const paths = ['/api/join', '/api/ls', '/api/read', '/api/add-share', '/api/nope', '/api/%zz']
    const statuses = new Map<number, number>()
    for (let i = 0; i < 1000; i += 20) {
      const batch = Array.from({ length: 20 }, (_, j) => {
        const n = i + j
        return raw(server, paths[n % paths.length] as string, {
          method: 'POST',
          headers: { ...bearer(server), 'content-type': 'application/json' },
          body: bodies[n % bodies.length] as string,
        }).then(async (res) => {
          await res.arrayBuffer()
          statuses.set(res.status, (statuses.get(res.status) ?? 0) + 1)
        })
      })
      await Promise.all(batch)
    }
    expect([...statuses.keys()].every((s) => s >= 400 && s < 500)).toBe(true)
    const ws = new WebSocket(`${server.url.replace('http', 'ws')}api/events`, {
      headers: bearer(server),
    })
    let errors = 0
    ws.on('message', (d) => {
      if ((JSON.parse(String(d)) as { type: string }).type === 'error') errors++
    })
    await new Promise((resolve, reject) => ws.once('open', resolve).once('error', reject))
    const frames: Array<string | Buffer> = [
      'not json',
      '{}',
      '{"id":-1,"command":{"type":"info"}}',
      '{"id":1,"command":{"type":"nope"}}',
      '{"id":2,"command":{"type":"join","topic":[]}}',
      Buffer.from([0xff, 0x00, 0x01]),
      JSON.stringify({ id: 3, command: { type: 'ls', path: '../../x' } }),
      '[]',
    ]
    for (let i = 0; i < 1000; i++) ws.send(frames[i % frames.length] as string)
    await waitUntil('1,000 error answers', () => errors >= 1000, 20_000)
    ws.close()
    expect(snapshot()).toEqual(before)
    expect((await client.call('topics')).topics).toEqual(['api test'])
    global.gc?.()
    const grownMb = (process.memoryUsage().rss - rssBefore) / 2 ** 20
    console.log(
      `RSS grew ${grownMb.toFixed(1)} MB over 1,000 requests and 1,000 frames; statuses ${JSON.stringify([...statuses])}`,
    )
    expect(grownMb).toBeLessThan(100)
  }, 60_000)

  it('a WebSocket client that does not read is closed once its queue passes the bound', async () => {
    const { server, client } = ctx.pair
    const ws = new WebSocket(`${server.url.replace('http', 'ws')}api/events`, {
      headers: bearer(server),
    })
    await new Promise((resolve, reject) => ws.once('open', resolve).once('error', reject))
    let closedWith = 0
    ws.on('close', (code) => {
      closedWith = code
    })
    // Stop reading: the kernel buffers fill, then the server's queue grows.
    ;(ws as unknown as { _socket: { pause(): void } })._socket.pause()
    const message = 'z'.repeat(4000)
    for (let i = 0; i < 5000; i++) server.emit({ type: 'log', level: 'info', message })
    ;(ws as unknown as { _socket: { resume(): void } })._socket.resume()
    await waitUntil('the slow socket is closed', () => closedWith !== 0, 20_000)
    expect([1006, 1008]).toContain(closedWith)
    expect((await client.call('topics')).topics).toEqual(['api test'])
  }, 60_000)
})
