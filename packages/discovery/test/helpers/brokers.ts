import { createServer, type Server, type Socket } from 'node:net'
import { freeTcpPort, startMosquitto } from '@harddrive-party/discovery/testing'
import { Aedes } from 'aedes'
import { inject } from 'vitest'

/** A broker a test may kill and restart on the same port. */
export interface TestBroker {
  readonly url: string
  readonly port: number
  /** Ends it abruptly (clients see their connection drop). */
  kill(): Promise<void>
  restart(): Promise<void>
  stop(): Promise<void>
}

export type BrokerKind = 'mosquitto' | 'aedes'
export const BROKER_KINDS: BrokerKind[] = ['mosquitto', 'aedes']

/** A private broker of `kind` for one test (mosquitto as a child process, aedes in-process). */
export async function startTestBroker(kind: BrokerKind): Promise<TestBroker> {
  if (kind === 'mosquitto') return startMosquitto()
  return startOpenAedes()
}

/** The project's shared broker of `kind`, or a private aedes: for tests that never kill it. */
export async function sharedBroker(
  kind: BrokerKind,
): Promise<{ url: string; stop(): Promise<void> }> {
  if (kind === 'mosquitto') return { url: inject('mosquittoUrl'), stop: async () => undefined }
  return startOpenAedes()
}

/**
 * Plain aedes with no rules, like a public broker: anyone may publish anything anywhere.
 * (The package's embedded broker is stricter; hostile tests need the open kind.)
 */
export async function startOpenAedes(port?: number): Promise<TestBroker> {
  const fixedPort = port ?? (await freeTcpPort())
  let broker: Aedes | undefined
  let server: Server | undefined
  const sockets = new Set<Socket>()
  const launch = async () => {
    const b = await Aedes.createBroker()
    const s = createServer((socket) => {
      sockets.add(socket)
      socket.once('close', () => sockets.delete(socket))
      b.handle(socket)
    })
    await new Promise<void>((resolve, reject) => {
      s.once('error', reject)
      s.listen(fixedPort, '127.0.0.1', () => resolve())
    })
    broker = b
    server = s
  }
  const kill = async () => {
    const b = broker
    const s = server
    broker = undefined
    server = undefined
    for (const socket of sockets) socket.destroy()
    sockets.clear()
    if (s) await new Promise<void>((resolve) => s.close(() => resolve()))
    if (b) await new Promise<void>((resolve) => b.close(() => resolve()))
  }
  await launch()
  return {
    url: `mqtt://127.0.0.1:${fixedPort}`,
    port: fixedPort,
    kill,
    restart: launch,
    stop: kill,
  }
}
