import type { PeerFound } from '@harddrive-party/discovery'
import type { NatType } from '@harddrive-party/wire-protocol'
import type { Technique } from './technique'

/** What the connection doctor shows about the last attempt to reach a peer. */
export interface AttemptInfo {
  ourNat: NatType
  theirNat: NatType
  /** Where the announcement came from (`remembered`: from the peer book, before any). */
  via: 'mqtt' | 'mdns' | 'remembered'
  /** Techniques tried in the last attempt, in order. */
  tried: Technique[]
  /** The one that made the live connection. */
  used?: Technique
  /** From the start of the attempt to the connection (ms). */
  elapsedMs?: number
  /** Why the last failed attempt failed, in words. */
  failure?: string
  attempts: number
  /** Failed attempts since the last connection. */
  failures: number
  /** When the next attempt is due (ms since the epoch), while one is scheduled. */
  nextAttemptAt?: number
  /** While connected through a relay (member or TURN): when we next look for a direct path. */
  nextUpgradeAt?: number
}

/** What the connector keeps per peer. */
export interface PeerState {
  key: Uint8Array
  hex: string
  /** Latest announcement per (topic, source). */
  announcements: Map<string, PeerFound>
  info: AttemptInfo | undefined
  attempt: { controller: AbortController; phase: 'dial' | 'punch' | 'wait' } | undefined
  timer: NodeJS.Timeout | undefined
  startedAt: number
  /** When we last sent or obeyed a connect request (at most one each way per 2 s). */
  requestSentAt: number
  requestTakenAt: number
  /** Our connection to it dropped, or an attempt failed: the peer may not be trying (requests). */
  reconnecting: boolean
  /** While relayed: the timer of the next look for a direct path, and looks so far. */
  upgradeTimer: NodeJS.Timeout | undefined
  upgradeLooks: number
}

/** Smallest gap between two connect requests to, or taken from, one peer. */
export const REQUEST_INTERVAL_MS = 2000
/** A request reaching us this soon after a connection was made is that connection's. */
export const REQUEST_GRACE_MS = 2000

export function newPeerState(key: Uint8Array): PeerState {
  return {
    key,
    hex: hex(key),
    announcements: new Map(),
    info: undefined,
    attempt: undefined,
    timer: undefined,
    startedAt: 0,
    requestSentAt: 0,
    requestTakenAt: 0,
    reconnecting: false,
    upgradeTimer: undefined,
    upgradeLooks: 0,
  }
}

/** mDNS first (a LAN path), then the newest announcement of a joined topic. */
export function best(state: PeerState): PeerFound | undefined {
  const all = [...state.announcements.values()]
  return (
    all.find((f) => f.via === 'mdns') ??
    all.sort((a, b) => b.announcement.timestamp - a.announcement.timestamp)[0]
  )
}

export function hex(key: Uint8Array): string {
  return Buffer.from(key).toString('hex')
}
