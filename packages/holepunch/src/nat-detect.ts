import { lookup as dnsLookup } from 'node:dns/promises'
import { networkInterfaces } from 'node:os'
import type { CreateLogger, Logger } from '@harddrive-party/wire-protocol'
import {
  type DatagramSocket,
  formatAddress,
  isIpLiteral,
  type SocketAddress,
  sameAddress,
} from './datagram-socket'
import { isHolepunchError } from './errors'
import { defaultLogger } from './logger'
import { classifyNat, type NatReport } from './nat-type'
import { emitProgress, type OnProgress } from './progress'
import { type StunBinding, type StunRetransmitOptions, stunBinding } from './stun-client'
import { DEFAULT_STUN_SERVERS, parseStunServer, type StunServer } from './stun-servers'

export interface DetectNatOptions extends StunRetransmitOptions {
  /** Servers as `host:port` (or objects), tried in order until two distinct ones answer. Default: {@link DEFAULT_STUN_SERVERS}, shuffled. */
  servers?: ReadonlyArray<string | StunServer>
  /** Give up after this long and classify what came back (`unknown` if nothing). Default 10 000. */
  timeoutMs?: number
  /** Servers asked at the same time. Default 2. */
  concurrency?: number
  /** Extra destinations (RFC 5780 alternate address/port) asked when mappings differ, to see the port-allocation pattern. Default 3. */
  extraProbes?: number
  /** Our own IP addresses, to recognise "no NAT". Default: every address of every interface. */
  localAddresses?: readonly string[]
  /** Resolves a server host name to IPv4 addresses. Default: `dns.lookup`. */
  lookup?: (hostname: string) => Promise<string[]>
  onProgress?: OnProgress
  signal?: AbortSignal
}

/**
 * Asks STUN servers, from `socket`, how our NAT maps that port, then classifies it. No server
 * answering is not an error: the report says `unknown` and the peer still works on the LAN.
 * Rejects only with the signal's reason (or a `STUN_BAD_SERVER` for an unparsable entry).
 */
export async function detectNat(
  socket: DatagramSocket,
  options: DetectNatOptions = {},
  createLogger: CreateLogger = defaultLogger,
): Promise<NatReport> {
  const log = createLogger('nat')
  const stunLog = createLogger('stun')
  const { signal, onProgress } = options
  signal?.throwIfAborted()
  const servers = (options.servers ?? shuffled(DEFAULT_STUN_SERVERS)).map(parseStunServer)
  const concurrency = Math.max(1, options.concurrency ?? 2)
  const lookup = options.lookup ?? defaultLookup
  const retransmit: StunRetransmitOptions = {}
  if (options.rtoMs !== undefined) retransmit.rtoMs = options.rtoMs
  if (options.maxRequests !== undefined) retransmit.maxRequests = options.maxRequests
  if (options.lastWaitFactor !== undefined) retransmit.lastWaitFactor = options.lastWaitFactor

  const enough = new AbortController()
  const deadline = AbortSignal.timeout(options.timeoutMs ?? 10_000)
  const stop = AbortSignal.any([enough.signal, deadline, ...(signal ? [signal] : [])])

  const answers: Array<{ order: number; binding: StunBinding }> = []
  const tried: SocketAddress[] = []
  const preferred: SocketAddress[] = [] // alternate addresses servers told us about
  let nextServer = 0
  let order = 0

  const bind = (destination: SocketAddress, until: AbortSignal) =>
    stunBinding(socket, destination, { ...retransmit, signal: until }, stunLog)
  const ask = async (destination: SocketAddress): Promise<StunBinding | undefined> => {
    const seq = order++
    tried.push(destination)
    try {
      const binding = await bind(destination, stop)
      answers.push({ order: seq, binding })
      emitProgress(onProgress, {
        type: 'holepunch:stun',
        detail: {
          server: destination,
          outcome: 'answered',
          mapped: binding.mapped,
          elapsedMs: binding.elapsedMs,
        },
      })
      return binding
    } catch (err) {
      if (stop.aborted) return undefined
      log('STUN %s: %s', formatAddress(destination), (err as Error).message)
      emitProgress(onProgress, {
        type: 'holepunch:stun',
        detail: {
          server: destination,
          outcome: isHolepunchError(err) && err.code === 'STUN_TIMEOUT' ? 'timeout' : 'error',
          elapsedMs: 0,
          error: (err as Error).message,
        },
      })
      return undefined
    }
  }

  const distinctAnswers = (): number =>
    answers.filter(
      (a, i) => answers.findIndex((b) => sameAddress(a.binding.server, b.binding.server)) === i,
    ).length

  // Next destination: an alternate address a server gave us, else the next configured server.
  const nextDestination = async (): Promise<SocketAddress | undefined> => {
    for (;;) {
      if (stop.aborted) return undefined
      const alternate = preferred.shift()
      if (alternate !== undefined) {
        if (!tried.some((t) => sameAddress(t, alternate))) return alternate
        continue
      }
      const server = servers[nextServer++]
      if (server === undefined) return undefined
      const hosts = isIpLiteral(server.host)
        ? [server.host]
        : await resolve(lookup, server, stop, log)
      const host = hosts.find(
        (h) => !tried.some((t) => sameAddress(t, { host: h, port: server.port })),
      )
      if (host !== undefined) return { host, port: server.port }
    }
  }

  const worker = async (): Promise<void> => {
    while (!stop.aborted && distinctAnswers() < 2) {
      const destination = await nextDestination()
      if (destination === undefined) return
      const binding = await ask(destination)
      if (binding?.otherAddress !== undefined) preferred.push(binding.otherAddress)
      if (distinctAnswers() >= 2) enough.abort()
    }
  }
  await Promise.all(Array.from({ length: concurrency }, worker))
  signal?.throwIfAborted()

  // Different mappings: ask a few more destinations, in order, to see how ports are allocated.
  const mappings = answers.map((a) => a.binding.mapped)
  const extra = options.extraProbes ?? 3
  if (!deadline.aborted && extra > 0 && mappings.some((m) => !sameAddress(m, mappings[0]!))) {
    const more = extraDestinations(answers.map((a) => a.binding)).filter(
      (d) => !tried.some((t) => sameAddress(t, d)),
    )
    const probeStop = AbortSignal.any([deadline, ...(signal ? [signal] : [])])
    await Promise.all(
      more.slice(0, extra).map(async (destination) => {
        const seq = order++
        tried.push(destination)
        try {
          answers.push({ order: seq, binding: await bind(destination, probeStop) })
        } catch (err) {
          log('extra probe %s: %s', formatAddress(destination), (err as Error).message)
        }
      }),
    )
    signal?.throwIfAborted()
  }

  answers.sort((a, b) => a.order - b.order)
  const report = classifyNat({
    localPort: socket.port,
    localAddresses: options.localAddresses ?? ownAddresses(),
    bindings: answers.map((a) => a.binding),
  })
  log('NAT %s (%s): %s', report.nat, report.portAllocation, report.reason)
  emitProgress(onProgress, { type: 'holepunch:nat', detail: report })
  return report
}

function extraDestinations(bindings: readonly StunBinding[]): SocketAddress[] {
  const out: SocketAddress[] = []
  for (const b of bindings) {
    const other = b.otherAddress
    if (other === undefined) continue
    out.push(
      other,
      { host: b.server.host, port: other.port },
      { host: other.host, port: b.server.port },
    )
  }
  return out.filter((d, i) => out.findIndex((o) => sameAddress(o, d)) === i)
}

async function resolve(
  lookup: (hostname: string) => Promise<string[]>,
  server: StunServer,
  signal: AbortSignal,
  log: Logger,
): Promise<string[]> {
  let onAbort: (() => void) | undefined
  try {
    return await Promise.race([
      lookup(server.host),
      new Promise<string[]>((resolve) => {
        onAbort = () => resolve([])
        signal.addEventListener('abort', onAbort, { once: true })
      }),
    ])
  } catch (err) {
    log('cannot resolve STUN server %s: %s', server.host, (err as Error).message)
    return []
  } finally {
    if (onAbort) signal.removeEventListener('abort', onAbort)
  }
}

async function defaultLookup(hostname: string): Promise<string[]> {
  const found = await dnsLookup(hostname, { all: true, family: 4 })
  return found.map((a) => a.address)
}

function ownAddresses(): string[] {
  return Object.values(networkInterfaces()).flatMap((list) => (list ?? []).map((i) => i.address))
}

function shuffled<T>(items: readonly T[]): T[] {
  const out = [...items]
  for (let i = out.length - 1; i > 0; i--) {
    const j = Math.floor(Math.random() * (i + 1))
    ;[out[i], out[j]] = [out[j]!, out[i]!]
  }
  return out
}
