import { randomBytes } from 'node:crypto'
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { type Mosquitto, startMosquitto } from '@harddrive-party/discovery/testing'
import {
  type ApiClient,
  type ApiServer,
  createApiClient,
  createApiServer,
  createPeerNode,
  type PeerNode,
  type PeerNodeOptions,
} from '@harddrive-party/peer-node'

export const WEB_ROOT = join(import.meta.dirname, '..', 'dist')
const TEST_KDF = { N: 1024, r: 8, p: 1 } as const

export interface UiPeer {
  node: PeerNode
  server: ApiServer
  api: ApiClient
  dir: string
}

/** A real peer on loopback (no STUN, the test's broker) with its API server serving our dist. */
export async function startUiPeer(
  brokerUrl: string,
  extra: Partial<PeerNodeOptions> = {},
): Promise<UiPeer> {
  const dir = await mkdtemp(join(tmpdir(), 'hdp-web-ui-'))
  const node = createPeerNode({
    storageDir: join(dir, 'storage'),
    host: '127.0.0.1',
    stunServers: [],
    lanAddresses: ['127.0.0.1'],
    mqtt: { brokerUrl },
    mdns: false,
    topicKdf: TEST_KDF,
    // Downloads stay in the test's folder, never the user's ~/Downloads.
    downloadDir: join(dir, 'downloads'),
    connect: { directTimeoutMs: 2000, backoffMs: [200, 500, 1000, 2000] },
    ...extra,
  })
  await node.start()
  const server = createApiServer({ node, host: '127.0.0.1', port: 0, webRoot: WEB_ROOT })
  await server.start()
  return { node, server, dir, api: createApiClient({ url: server.url, token: server.token }) }
}

export async function stopUiPeer(p: UiPeer | undefined) {
  if (!p) return
  await p.server.stop().catch(() => {})
  await p.node.stop().catch(() => {})
  await rm(p.dir, { recursive: true, force: true })
}

export async function useBroker(): Promise<Mosquitto> {
  return startMosquitto()
}

/** A real, playable WAV: `seconds` of a 440 Hz tone, 8 kHz mono 16-bit. */
export function wav(seconds: number): Buffer {
  const rate = 8000
  const samples = Math.floor(rate * seconds)
  const buf = Buffer.alloc(44 + samples * 2)
  buf.write('RIFF', 0)
  buf.writeUInt32LE(36 + samples * 2, 4)
  buf.write('WAVEfmt ', 8)
  buf.writeUInt32LE(16, 16)
  buf.writeUInt16LE(1, 20)
  buf.writeUInt16LE(1, 22)
  buf.writeUInt32LE(rate, 24)
  buf.writeUInt32LE(rate * 2, 28)
  buf.writeUInt16LE(2, 32)
  buf.writeUInt16LE(16, 34)
  buf.write('data', 36)
  buf.writeUInt32LE(samples * 2, 40)
  for (let i = 0; i < samples; i++) {
    buf.writeInt16LE(Math.round(Math.sin((2 * Math.PI * 440 * i) / rate) * 8000), 44 + i * 2)
  }
  return buf
}

/**
 * The shared folder of the peer being browsed: an album of three tracks, a song, a larger file to pause,
 * and a folder of `manyFiles` small files for the virtualised list.
 */
export async function makeMedia(root: string, manyFiles: number): Promise<string> {
  const media = join(root, 'media')
  await mkdir(join(media, 'album'), { recursive: true })
  await mkdir(join(media, 'many'), { recursive: true })
  for (const n of [1, 2, 3]) await writeFile(join(media, 'album', `track-0${n}.wav`), wav(8))
  await writeFile(join(media, 'song.wav'), wav(8))
  await writeFile(join(media, 'large.bin'), randomBytes(8 * 1024 * 1024))
  const names = Array.from(
    { length: manyFiles },
    (_, i) => `file-${String(i).padStart(5, '0')}.txt`,
  )
  for (let i = 0; i < names.length; i += 500) {
    await Promise.all(names.slice(i, i + 500).map((n) => writeFile(join(media, 'many', n), n)))
  }
  return media
}

/** A second share: three files to queue, reorder and cancel, and a video to play while it arrives. */
export async function makeMore(root: string, video: Buffer): Promise<string> {
  const more = join(root, 'more')
  await mkdir(join(more, 'queue'), { recursive: true })
  for (const n of [1, 2, 3]) {
    await writeFile(join(more, 'queue', `q${n}.bin`), randomBytes(4 * 1024 * 1024))
  }
  await writeFile(join(more, 'clip.webm'), video)
  return more
}
