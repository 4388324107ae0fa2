import { createPeerClient, createRequestServer } from '@harddrive-party/peer-node'
import { afterEach, expect, it } from 'vitest'
import { Cleanups, startServingPeer, startTransport, topic } from './serving-helpers'

const cleanups = new Cleanups()
afterEach(() => cleanups.run())

it('README: Serving our shares', async () => {
  // The parts the README takes as given: an opened store with a share, two started transports.
  const given = await startServingPeer(
    cleanups,
    { 'a.flac': 'abc', 'Come Together.flac': 'x' },
    { serve: false }, // the README makes its own server
  )
  const { store, transport } = given
  const other = await startTransport(cleanups)
  const address = { host: '127.0.0.1', port: transport.address().port }
  const keys = await topic()
  const logged: unknown[] = []
  const file = { write: (chunk: Uint8Array) => logged.push(chunk.length) }

  const server = createRequestServer({ store, limits: { uploadSlots: 3 } })
  await server.start()
  transport.addEventListener('connection', ({ detail }) => void server.serve(detail))

  const peer = createPeerClient(await other.dial(address, transport.publicKey, { topic: keys }))
  for await (const share of peer.ls('')) logged.push(share.path)
  for await (const hit of peer.search('come together')) logged.push(hit.path)
  const read = await peer.read(
    'music/a.flac',
    { offset: 0 },
    { onProgress: (e) => logged.push(e.position) },
  )
  for await (const chunk of read.body) file.write(chunk)
  const controller = new AbortController()
  const signal = controller.signal
  const cache = {
    reset: (version: number) => {
      logged.push(typeof version)
      controller.abort()
    },
  }
  await expect(
    (async () => {
      for await (const version of peer.watchShares({ signal })) cache.reset(version) // first: the current one
    })(),
  ).rejects.toMatchObject({ name: 'AbortError' })
  await server.stop()

  expect(logged).toEqual(['music', 'music/Come Together.flac', 3, 'number'])
})
