// Benchmark peer: one long-lived process per lab host. For each `round <json>` line on stdin it
// binds a fresh UDX socket, classifies its NAT (prints `nat <json>`), waits for `peer <json>`,
// punches, proves the path with a datagram each way, prints `result <json>`, and closes
// everything before the next round. `exit` ends it.
import { createInterface } from 'node:readline'
import {
  createHolePuncher,
  isHolepunchError,
  type PunchOptions,
  type RemotePeer,
} from '@harddrive-party/holepunch'
import { bindUdx, UDX, udxSocketFactory } from '../test/helpers/sockets'

const [stunArg = ''] = process.argv.slice(2)
const stun = stunArg.split(',').filter(Boolean)
const udx = new UDX()
const queue: string[] = []
const waiters: Array<(line: string) => void> = []
createInterface({ input: process.stdin }).on('line', (line) => {
  const w = waiters.shift()
  if (w) w(line)
  else queue.push(line)
})
const nextLine = (): Promise<string> => {
  const line = queue.shift()
  return line !== undefined ? Promise.resolve(line) : new Promise((r) => waiters.push(r))
}
const say = (kind: string, value: unknown): void => {
  process.stdout.write(`${kind} ${JSON.stringify(value)}\n`)
}
const rest = (line: string): string => line.slice(line.indexOf(' ') + 1)

process.stdout.write('ready\n')
for (;;) {
  const line = await nextLine()
  if (line === 'exit') break
  const { secret, options, name, peerName, blind } = JSON.parse(rest(line)) as {
    secret: string
    options: PunchOptions
    name: string
    peerName: string
    /** The baseline: ignore NAT types, treat both sides as easy (plain simultaneous punching). */
    blind: boolean
  }
  let failure: { packetsSent: number; elapsedMs: number } | undefined
  const socket = bindUdx(udx, '0.0.0.0')
  const factory = udxSocketFactory(udx)
  const puncher = createHolePuncher({ socket, createSocket: factory, stunServers: stun })
  await puncher.start()
  const nat = await puncher.detectNat({ rtoMs: 200, timeoutMs: 5000 })
  say('nat', {
    nat: nat.nat,
    portAllocation: nat.portAllocation,
    publicAddress: nat.publicAddress,
    localPort: socket.port,
  })
  const remote = JSON.parse(rest(await nextLine())) as RemotePeer
  try {
    const result = await puncher.punch(
      {
        secret: Buffer.from(secret, 'hex'),
        remote,
        ...(blind
          ? {
              local: {
                nat: nat.nat === 'open' ? 'open' : 'easy',
                ...(nat.publicAddress ? { publicAddress: nat.publicAddress } : {}),
              },
            }
          : {}),
      },
      {
        ...options,
        onProgress: (e) => {
          if (e.type === 'holepunch:failure') failure = e.detail
        },
      },
    )
    // One datagram each way over the punched path, answered, so both sides know it carries data.
    const proved = await new Promise<boolean>((resolve) => {
      const timer = setTimeout(() => resolve(false), 3000)
      let answered = false
      let heard = false
      const off = result.socket.onMessage((data) => {
        const text = Buffer.from(data).toString()
        if (text === `DATA to ${name}`) heard = true
        if (text === `ACK to ${name}`) answered = true
        if (text === `DATA to ${name}`) {
          result.socket
            .send(Buffer.from(`ACK to ${peerName}`), result.remote.port, result.remote.host)
            .catch(() => {})
        }
        if (heard && answered) {
          clearTimeout(timer)
          clearInterval(resend)
          off()
          resolve(true)
        }
      })
      const send = (): void => {
        result.socket
          .send(Buffer.from(`DATA to ${peerName}`), result.remote.port, result.remote.host)
          .catch(() => {})
      }
      const resend = setInterval(send, 50)
      send()
      timer.unref()
    })
    say('result', {
      ok: proved,
      technique: result.technique,
      elapsedMs: result.elapsedMs,
      packetsSent: result.packetsSent,
      created: result.created,
    })
    // Keep the path alive until the other side has proved it too.
    await nextLine()
    if (result.created) await result.socket.close()
  } catch (err) {
    say('result', {
      ok: false,
      code: isHolepunchError(err) ? err.code : (err as Error).name,
      message: (err as Error).message,
      packetsSent: failure?.packetsSent ?? 0,
      elapsedMs: failure?.elapsedMs ?? 0,
    })
    await nextLine()
  }
  await puncher.stop()
  await Promise.allSettled([socket.close(), ...factory.made.map((s) => s.close())])
  say('closed', {})
}
process.exit(0)
