import type { IndexStore, Share } from '@harddrive-party/index-store'
import {
  API_SERVED_COMMANDS,
  type ApiCommand,
  type ApiEntryPage,
  type ApiEvent,
  type ApiInfo,
  type ApiLimits,
  type ApiPeer,
  type ApiPeerError,
  type ApiResults,
  type ApiServedCommandType,
  type ApiShare,
  MAX_API_READ_BYTES,
  PROTOCOL_MAJOR,
  PROTOCOL_MINOR,
} from '@harddrive-party/wire-protocol'
import { ALPN } from '@harddrive-party/wire-protocol/internal'
import type { PeerInfo, PeerNode } from '../types'
import { apiUpload, runDownloadCommand } from './api-downloads'
import { ApiError, publicMessage, toApiError } from './api-error'

/** What commands need besides the node. */
export interface CommandContext {
  node: PeerNode
  /** The API's own URL (for `info`). */
  apiUrl: string
  /** Pushes an event to every controller. */
  emit(event: ApiEvent): void
  /** Called by `stop` once the answer is sent. */
  stop(): void
  limits: ApiLimits['api']
  signal: AbortSignal
}

type SingleCommand = Exclude<ApiCommand, { type: 'ls' }>

/** The commands answered with one JSON document, by type. */
export function isServed(type: string): type is ApiServedCommandType {
  return SERVED.has(type)
}

const SERVED: ReadonlySet<string> = new Set(API_SERVED_COMMANDS)

/** Runs a command other than `ls`. */
export async function runCommand(
  command: SingleCommand,
  ctx: CommandContext,
): Promise<ApiResults[Exclude<ApiServedCommandType, 'ls'>]> {
  const { node } = ctx
  switch (command.type) {
    case 'info':
      return info(ctx)
    case 'topics':
      return { topics: node.topics() }
    case 'join':
      await node.join(command.topic, { signal: ctx.signal })
      emitTopics(ctx)
      return { topics: node.topics() }
    case 'leave':
      await node.leave(command.topic)
      emitTopics(ctx)
      return { topics: node.topics() }
    case 'peers':
      return { peers: node.peers().map(apiPeer) }
    case 'shares':
      return { shares: node.store.shares.list().map(apiShare), ...node.store.totals() }
    case 'add-share': {
      const share = await node.store.shares.add(command.dir, { signal: ctx.signal })
      // The share is listed at once; its files arrive with the scan (progress as events).
      void rescan(ctx, share.name).catch((err: unknown) =>
        ctx.emit({ type: 'log', level: 'error', message: publicMessage(toApiError(err)) }),
      )
      return { share: apiShare(share) }
    }
    case 'remove-share':
      return { removed: await node.store.shares.remove(command.name, { signal: ctx.signal }) }
    case 'rescan':
      return rescan(ctx, undefined)
    case 'read':
      return read(command, ctx)
    case 'limits':
      return limits(ctx)
    case 'set-limits': {
      const { type: _, ...changes } = command
      await node.setLimits(changes, { signal: ctx.signal })
      return limits(ctx)
    }
    case 'uploads':
      return { uploads: node.uploads().map(apiUpload) }
    case 'download':
    case 'queue':
    case 'pause':
    case 'resume':
    case 'cancel':
    case 'reorder':
      return runDownloadCommand(node, command)
    case 'stop':
      ctx.stop()
      return { stopping: true }
  }
}

function limits(ctx: CommandContext): ApiLimits {
  const {
    requestTimeoutMs: _t,
    stallTimeoutMs: _s,
    queuePositionIntervalMs: _q,
    ...serving
  } = ctx.node.servingLimits()
  const { bytesPerSecond, bytesPerSecondPerPeer } = ctx.node.downloads.status().limits
  return { serving, downloads: { bytesPerSecond, bytesPerSecondPerPeer }, api: ctx.limits }
}

function info(ctx: CommandContext): ApiInfo {
  const { node } = ctx
  const nat = node.nat
  return {
    name: node.name,
    key: Buffer.from(node.publicKey).toString('hex'),
    nat: {
      nat: nat.nat,
      portAllocation: nat.portAllocation,
      ...(nat.publicAddress ? { publicAddress: { ...nat.publicAddress } } : {}),
      reason: nat.reason,
    },
    addresses: { transport: node.address(), api: ctx.apiUrl },
    versions: {
      protocol: `${PROTOCOL_MAJOR}.${PROTOCOL_MINOR}`,
      alpn: ALPN,
      node: process.version,
    },
    storageDir: node.storage.dir,
  }
}

function emitTopics(ctx: CommandContext): void {
  ctx.emit({ type: 'topics', topics: ctx.node.topics().map((name) => ({ name, joined: true })) })
}

async function rescan(ctx: CommandContext, share: string | undefined) {
  const summary = await ctx.node.store.rescan({
    ...(share !== undefined ? { share } : {}),
    signal: ctx.signal,
    onProgress: (p) =>
      ctx.emit({
        type: 'scan',
        share: p.share,
        dirs: p.dirs,
        files: p.files,
        bytes: p.bytes,
        skipped: p.skipped,
        done: p.done,
      }),
  })
  return {
    shares: summary.shares.map((s) => ({
      share: s.share,
      dirs: s.dirs,
      files: s.files,
      bytes: s.bytes,
      changed: s.changed,
    })),
    files: summary.files,
    bytes: summary.bytes,
    durationMs: Math.round(summary.durationMs),
  }
}

async function read(command: Extract<ApiCommand, { type: 'read' }>, ctx: CommandContext) {
  const length = command.length ?? MAX_API_READ_BYTES
  if (length > MAX_API_READ_BYTES) {
    throw new ApiError('TOO_LARGE', `read at most ${MAX_API_READ_BYTES} bytes (use /files)`)
  }
  const peer = resolvePeer(ctx.node, command.peer)
  const range = { offset: command.offset ?? 0, length }
  const chunks: Buffer[] = []
  let result: { size: number; mtime: number; offset: number }
  if (peer === 'self') {
    const opened = await ctx.node.store.open(command.path, { signal: ctx.signal })
    try {
      const want = Math.max(0, Math.min(length, opened.size - range.offset))
      const buf = Buffer.alloc(want)
      const { bytesRead } = await opened.handle.read(buf, 0, want, range.offset)
      chunks.push(buf.subarray(0, bytesRead))
      result = { size: opened.size, mtime: opened.mtime, offset: range.offset }
    } finally {
      await opened.handle.close()
    }
  } else {
    const remote = await ctx.node.client(peer.hex).read(command.path, range, { signal: ctx.signal })
    for await (const chunk of remote.body) chunks.push(Buffer.from(chunk))
    result = { size: remote.size, mtime: remote.mtime, offset: remote.offset }
  }
  const data = Buffer.concat(chunks)
  return { ...result, length: data.length, data: data.toString('base64') }
}

/** A peer named by hex key or display name; `self` for our own key or name. */
export function resolvePeer(node: PeerNode, ref: string): PeerInfo | 'self' {
  const lower = ref.toLowerCase()
  if (lower === Buffer.from(node.publicKey).toString('hex') || ref === node.name) return 'self'
  const peer = node.peers().find((p) => p.hex === lower || p.name === ref)
  if (peer === undefined) throw new ApiError('NOT_FOUND', `no known peer ${JSON.stringify(ref)}`)
  if (!peer.connected) throw new ApiError('PEER_UNAVAILABLE', `${peer.name} is not connected`)
  return peer
}

/** How long one peer may take to answer one page of `ls`. */
const LIST_TIMEOUT_MS = 20_000

/**
 * `ls`: one page (up to `limit` entries) from the named peer, ourselves, or every connected
 * peer at once, each yielded as soon as it arrives; a failing peer is a `peer-error` line.
 */
export async function* listCommand(
  command: Extract<ApiCommand, { type: 'ls' }>,
  ctx: CommandContext,
): AsyncGenerator<ApiEntryPage | ApiPeerError> {
  const { node } = ctx
  const targets: Array<PeerInfo | 'self'> =
    command.peer !== undefined
      ? [resolvePeer(node, command.peer)]
      : node.peers().filter((p) => p.connected)
  const pending = new Map<number, Promise<{ i: number; line: ApiEntryPage | ApiPeerError }>>()
  targets.forEach((t, i) => {
    pending.set(
      i,
      pageOf(t, command, ctx).then((line) => ({ i, line })),
    )
  })
  while (pending.size > 0) {
    const { i, line } = await Promise.race(pending.values())
    pending.delete(i)
    yield line
  }
}

async function pageOf(
  target: PeerInfo | 'self',
  c: Extract<ApiCommand, { type: 'ls' }>,
  ctx: CommandContext,
): Promise<ApiEntryPage | ApiPeerError> {
  const { node } = ctx
  // One slow peer must not hold the whole all-peers listing open: it becomes a peer-error.
  const signal = AbortSignal.any([ctx.signal, AbortSignal.timeout(LIST_TIMEOUT_MS)])
  const who =
    target === 'self'
      ? { peer: Buffer.from(node.publicKey).toString('hex'), name: node.name }
      : { peer: target.hex, name: target.name }
  const limit = c.limit ?? 1000
  try {
    let page: { entries: import('@harddrive-party/wire-protocol').Entry[]; cursor?: Uint8Array }
    if (target === 'self') {
      page = await localPage(node.store, c, limit, signal)
    } else {
      const client = node.client(target.hex)
      const opts = { pageSize: limit, signal, ...(c.cursor ? { cursor: c.cursor } : {}) }
      const pages =
        c.search !== undefined
          ? client.searchPages(c.search, { ...opts, path: c.path })
          : client.lsPages(c.path, { ...opts, recursive: c.recursive === true })
      const first = await pages.next()
      await pages.return(undefined)
      page = first.done ? { entries: [] } : first.value
    }
    return {
      type: 'page',
      ...who,
      entries: page.entries,
      ...(page.cursor ? { cursor: Buffer.from(page.cursor).toString('hex') } : {}),
    }
  } catch (err) {
    const e = toApiError(err)
    return { type: 'peer-error', ...who, code: e.code, message: publicMessage(e) }
  }
}

function localPage(
  store: IndexStore,
  c: Extract<ApiCommand, { type: 'ls' }>,
  limit: number,
  signal: AbortSignal,
) {
  const opts = { limit, signal, ...(c.cursor ? { cursor: c.cursor } : {}) }
  const stream =
    c.search !== undefined
      ? store.search(c.search, { ...opts, path: c.path })
      : store.ls(c.path, { ...opts, recursive: c.recursive === true })
  return stream.page()
}

export function apiPeer(p: PeerInfo): ApiPeer {
  const out: ApiPeer = {
    key: p.hex,
    name: p.name,
    connected: p.connected,
    topics: p.topics,
    announcedVia: p.announcedVia,
  }
  if (p.attempt) out.attempt = { ...p.attempt, tried: [...p.attempt.tried] }
  if (p.connection) {
    out.connection = { ...p.connection, remoteAddress: { ...p.connection.remoteAddress } }
  }
  return out
}

function apiShare(s: Share): ApiShare {
  return {
    name: s.name,
    root: s.root,
    files: s.files,
    bytes: s.bytes,
    addedAt: s.addedAt,
    ...(s.scannedAt !== undefined ? { scannedAt: s.scannedAt } : {}),
  }
}
