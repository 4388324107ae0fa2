import { type Mosquitto, startMosquitto } from '@harddrive-party/discovery/testing'
import { createApiClient, createApiServer } from '@harddrive-party/peer-node'
import { hasCoturn, startStunServer } from '@harddrive-party/test-lab'
import type { ApiEvent } from '@harddrive-party/wire-protocol'
import { afterAll, describe, expect, it } from 'vitest'
import { Cleanup, loopbackOptions, waitUntil } from './helpers'

const cleanup = new Cleanup()
const stops: Array<() => Promise<unknown>> = []
afterAll(async () => {
  for (const stop of stops.splice(0).reverse()) await stop().catch(() => {})
  await cleanup.run()
})

const coturn = hasCoturn()
if (!coturn) {
  console.warn(
    'api live events test: coturn (turnserver) is not installed, the NAT half is skipped',
  )
}

type Discovery = Extract<ApiEvent, { type: 'discovery' }>
type Nat = Extract<ApiEvent, { type: 'nat' }>

describe('NAT and broker events over the API, caused by real changes', () => {
  it('the broker dies and comes back: discovery offline, then online; STUN goes away: nat unknown', async () => {
    const broker: Mosquitto = await startMosquitto()
    stops.push(() => broker.stop())
    const stun = coturn ? await startStunServer({ dir: await cleanup.dir() }) : undefined
    if (stun) stops.push(() => stun.stop())
    const node = cleanup.node(
      loopbackOptions(await cleanup.dir(), broker.url, {
        mqtt: { brokerUrl: broker.url, reconnect: { initialDelayMs: 200, maxDelayMs: 500 } },
        stunServers: stun ? stun.endpoints.map((e) => `${e.host}:${e.port}`) : [],
        natTimeoutMs: 1000,
        natRecheckMs: 300,
      }),
    )
    await node.start()
    await node.join('live events')
    const server = createApiServer({ node, port: 0 })
    await server.start()
    stops.push(() => server.stop())
    const client = createApiClient({ url: server.url, token: server.token })
    const controller = new AbortController()
    const events: ApiEvent[] = []
    void (async () => {
      for await (const e of client.events({ signal: controller.signal })) events.push(e)
    })().catch(() => {})
    await new Promise((r) => setTimeout(r, 300))
    const discovery = () => events.filter((e): e is Discovery => e.type === 'discovery')

    // SIGKILL: the broker vanishes without a goodbye, as in a crash or a network cut.
    await broker.kill()
    await waitUntil('a discovery offline event', () =>
      discovery().some((e) => e.via === 'mqtt' && e.state === 'offline'),
    )
    expect(discovery().at(-1)?.message).toContain(broker.url)
    await broker.restart()
    await waitUntil('a discovery online event', () =>
      discovery().some((e) => e.via === 'mqtt' && e.state === 'online'),
    )
    const states = discovery().map((e) => e.state)
    expect(states.indexOf('offline')).toBeLessThan(states.lastIndexOf('online'))

    if (stun) {
      expect((await client.call('info')).nat.nat).toBe('open')
      await stun.stop() // the next NAT check finds no STUN server: unknown
      await waitUntil('a nat event saying unknown', () =>
        events.some((e) => e.type === 'nat' && e.nat === 'unknown'),
      )
      const nat = events.find((e): e is Nat => e.type === 'nat') as Nat
      expect(nat.reason).toMatch(/no STUN server answered/)
      expect((await client.call('info')).nat.nat).toBe('unknown')
    }
    console.log(
      `events seen: ${events
        .filter((e) => e.type === 'discovery' || e.type === 'nat')
        .map((e) => JSON.stringify(e))
        .join('\n  ')}`,
    )
    controller.abort()
  }, 60_000)
})
