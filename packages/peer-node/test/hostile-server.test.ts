import type { PeerClient } from '@harddrive-party/peer-node'
import type { TransportStream } from '@harddrive-party/transport'
import { afterEach, describe, expect, it } from 'vitest'
import { frame, startHostilePeer } from './raw-peer'
import { Cleanups, collect, readBody, rejection } from './serving-helpers'

const cleanups = new Cleanups()
afterEach(() => cleanups.run())

/** A peer that answers every request with `answer(stream)`, ignoring what was asked. */
async function hostileServer(
  answer: (stream: TransportStream) => Promise<void>,
): Promise<PeerClient> {
  return (await startHostilePeer(cleanups, answer)).client
}

describe('the client against a hostile peer', () => {
  it('drops listed entries outside the folder asked for, keeps the honest ones', async () => {
    const client = await hostileServer(async (stream) => {
      await stream.write(
        frame({
          type: 'entries',
          entries: [
            { path: 'films/ok.mkv', size: 1, dir: false },
            { path: 'other/secret', size: 1, dir: false },
            { path: 'filmsX/evil', size: 1, dir: false },
          ],
        }),
      )
      await stream.write(frame({ type: 'end' }))
      await stream.end()
    })
    const entries = await collect(client.ls('films'))
    expect(entries.map((e) => e.path)).toEqual(['films/ok.mkv'])
  })

  it('refuses malformed answers, traversal in entries, and a header for other bytes with typed errors', async () => {
    const answers = [
      frame({ type: 'entries', entries: [{ path: '../../etc/passwd', size: 1, dir: false }] }),
      new Uint8Array([0, 0, 0, 2, 0xff, 0xff]),
      new Uint8Array([0xff, 0xff, 0xff, 0xff]), // announces a 4 GiB frame
    ]
    let i = 0
    const client = await hostileServer(async (stream) => {
      await stream.write(answers[i++ % answers.length] as Uint8Array)
      await stream.end()
    })
    for (let n = 0; n < answers.length; n++) {
      const err = await rejection(collect(client.ls('films')))
      expect([err.name, err.code]).toEqual(['PeerNodeError', 'BAD_RESPONSE'])
    }

    const offsets = await hostileServer(async (stream) => {
      await stream.write(frame({ type: 'header', size: 100, mtime: 0, offset: 50, length: 50 }))
      await stream.end()
    })
    const wrong = await rejection(offsets.read('films/a.mkv', { offset: 0, length: 10 }))
    expect(wrong.code).toBe('BAD_RESPONSE')
  })

  it('reports a transfer cut short as INTERRUPTED, and extra bytes as BAD_RESPONSE', async () => {
    const short = await hostileServer(async (stream) => {
      await stream.write(frame({ type: 'header', size: 100, mtime: 0, offset: 0, length: 100 }))
      await stream.write(new Uint8Array(60))
      await stream.end()
    })
    const read = await short.read('films/a.mkv')
    const cut = await rejection(readBody(read.body))
    expect(cut.code).toBe('INTERRUPTED')
    expect((cut as { received?: number }).received).toBe(60)

    const long = await hostileServer(async (stream) => {
      await stream.write(frame({ type: 'header', size: 100, mtime: 0, offset: 0, length: 10 }))
      await stream.write(new Uint8Array(20))
      await stream.end()
    })
    const extra = await long.read('films/a.mkv')
    expect((await rejection(readBody(extra.body))).code).toBe('BAD_RESPONSE')
  })
})
