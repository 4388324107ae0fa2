import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { createTransport, deriveTopicKeys, loadOrCreateIdentity } from '@harddrive-party/transport'
import { afterEach, expect, it } from 'vitest'

let dirs: string[] = []
afterEach(async () => {
  await Promise.all(dirs.map((d) => rm(d, { recursive: true, force: true })))
  dirs = []
})

it('runs the README usage example', async () => {
  const aliceDir = await mkdtemp(join(tmpdir(), 'hdp-readme-alice-'))
  const bobDir = await mkdtemp(join(tmpdir(), 'hdp-readme-bob-'))
  dirs.push(aliceDir, bobDir)

  // --- the README lines, unchanged ---
  const topic = await deriveTopicKeys('my-friends')
  const topics = () => [topic]
  const alice = createTransport({ identity: await loadOrCreateIdentity(aliceDir), topics })
  const bob = createTransport({ identity: await loadOrCreateIdentity(bobDir), topics })
  await Promise.all([alice.start(), bob.start()])

  bob.addEventListener('connection', async ({ detail: connection }) => {
    for await (const stream of connection.incomingStreams()) {
      for await (const chunk of stream) await stream.write(chunk) // echo
      await stream.end()
    }
  })

  const address = { host: '127.0.0.1', port: bob.address().port }
  const connection = await alice.dial(address, bob.publicKey, { topic })
  const stream = await connection.openStream()
  await stream.write(new TextEncoder().encode('hello'))
  await stream.end()
  let reply = ''
  for await (const chunk of stream) reply += new TextDecoder().decode(chunk) // 'hello'
  await Promise.all([alice.stop(), bob.stop()])
  // --- end of the README lines ---

  expect(reply).toBe('hello')
  expect(Buffer.from(connection.remotePublicKey)).toEqual(Buffer.from(bob.publicKey))
  expect(connection.closeReason).toBeDefined() // stop() closed it
})
