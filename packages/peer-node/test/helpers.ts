import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { type Mosquitto, startMosquitto } from '@harddrive-party/discovery/testing'
import { createPeerNode, type PeerNode, type PeerNodeOptions } from '@harddrive-party/peer-node'
import { afterAll, beforeAll } from 'vitest'

/** The cheap topic KDF every test peer uses (discovery's TEST_KDF). */
export const TEST_KDF = { N: 1024, r: 8, p: 1 } as const

export async function tempDir(prefix = 'hdp-peer-node-'): Promise<string> {
  return mkdtemp(join(tmpdir(), prefix))
}

/**
 * Options for a peer on loopback: no STUN (NAT `unknown`), 127.0.0.1 as its only address, MQTT
 * through the test broker, no mDNS, short timers.
 */
export function loopbackOptions(
  storageDir: string,
  brokerUrl: string,
  extra: PeerNodeOptions = {},
): PeerNodeOptions {
  return {
    storageDir,
    host: '127.0.0.1',
    stunServers: [],
    lanAddresses: ['127.0.0.1'],
    mqtt: { brokerUrl },
    mdns: false,
    topicKdf: TEST_KDF,
    connect: { directTimeoutMs: 2000, backoffMs: [200, 500, 1000, 2000] },
    ...extra,
  }
}

/** Nodes and directories made by a test, removed in afterEach. */
export class Cleanup {
  readonly nodes: PeerNode[] = []
  readonly dirs: string[] = []

  async dir(): Promise<string> {
    const d = await tempDir()
    this.dirs.push(d)
    return d
  }

  node(options: PeerNodeOptions): PeerNode {
    const node = createPeerNode(options)
    this.nodes.push(node)
    return node
  }

  async run(): Promise<void> {
    await Promise.allSettled(this.nodes.splice(0).map((n) => n.stop()))
    await Promise.allSettled(
      this.dirs.splice(0).map((d) => rm(d, { recursive: true, force: true })),
    )
  }
}

/** Polls `check` every 50 ms until it returns true, or fails after `timeoutMs` with `what`. */
export async function waitUntil(
  what: string,
  check: () => boolean,
  timeoutMs = 15_000,
): Promise<void> {
  const end = Date.now() + timeoutMs
  while (!check()) {
    if (Date.now() > end) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`)
    await new Promise((resolve) => setTimeout(resolve, 50))
  }
}

/** Hex keys of the peers `node` holds a live connection to. */
export function connectedTo(node: PeerNode): string[] {
  return node
    .peers()
    .filter((p) => p.connected)
    .map((p) => p.hex)
    .sort()
}

/**
 * A real mosquitto for the test file (vitest's globalSetup does not resolve the workspace's
 * source condition, so each file starts its own; it takes ~50 ms).
 */
export function useMosquitto(): { readonly url: string } {
  let broker: Mosquitto | undefined
  beforeAll(async () => {
    broker = await startMosquitto()
  })
  afterAll(() => broker?.stop())
  return {
    get url() {
      if (!broker) throw new Error('mosquitto is not started')
      return broker.url
    },
  }
}
