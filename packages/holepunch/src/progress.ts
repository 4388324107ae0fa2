import type { NatType } from '@harddrive-party/wire-protocol'
import type { SocketAddress } from './datagram-socket'
import type { HolepunchErrorCode } from './errors'
import type { NatReport } from './nat-type'

/** How a connection is being made, chosen from both sides' NAT types. */
export type PunchTechnique = 'direct' | 'simultaneous' | 'birthday' | 'port-prediction'

/** Which part this side plays: the birthday method is asymmetric. */
export type PunchRole = 'both' | 'birthday-easy' | 'birthday-hard'

/** Counters every punch progress event carries, for a connection doctor. */
export interface PunchStats {
  technique: PunchTechnique
  role: PunchRole
  /** Datagrams sent so far, over every socket of this attempt. */
  packetsSent: number
  elapsedMs: number
}

/** A libp2p-style progress event: a namespaced `type` and its `detail`. */
export interface ProgressEvent<Type extends string, Detail> {
  type: Type
  detail: Detail
}

export type StunProgressEvent = ProgressEvent<
  'holepunch:stun',
  {
    server: SocketAddress
    outcome: 'answered' | 'timeout' | 'error'
    mapped?: SocketAddress
    elapsedMs: number
    /** Why the server gave nothing usable, when it did not. */
    error?: string
  }
>

export type HolepunchProgressEvent =
  | StunProgressEvent
  /** NAT classification finished. */
  | ProgressEvent<'holepunch:nat', NatReport>
  /** A punch attempt started. */
  | ProgressEvent<
      'holepunch:attempt',
      PunchStats & { localNat: NatType; remoteNat: NatType; candidates: SocketAddress[] }
    >
  /** The birthday method's hard side opened its extra sockets. */
  | ProgressEvent<'holepunch:sockets', PunchStats & { opened: number; failed: number }>
  /** The first authenticated packet from the peer arrived (the hole is half open). */
  | ProgressEvent<'holepunch:contact', PunchStats & { from: SocketAddress }>
  /** A two-way exchange completed. */
  | ProgressEvent<'holepunch:success', PunchStats & { remote: SocketAddress; localPort: number }>
  /** The attempt ended without a two-way exchange. */
  | ProgressEvent<
      'holepunch:failure',
      PunchStats & { code: HolepunchErrorCode | 'ABORTED'; reason: string }
    >

export type OnProgress = (event: HolepunchProgressEvent) => void

/** Observers must never break the work they observe. */
export function emitProgress(
  onProgress: OnProgress | undefined,
  event: HolepunchProgressEvent,
): void {
  if (onProgress === undefined) return
  try {
    onProgress(event)
  } catch {
    // an observer's bug is its own
  }
}
