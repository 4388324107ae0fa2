import { useEffect } from 'preact/hooks'
import type { AppState, DiscoveryEvent, Store } from '../api/store'
import type { PeerView } from '../api/views'
import { bytes, duration } from '../ui/format'

const NAT_WORDS: Record<string, string> = {
  open: 'Your machine is directly on the internet: anyone can reach you. Connections are easy.',
  easy: 'You are behind a friendly router (it keeps the same outside port for you). Most peers can reach you by hole punching.',
  hard: 'You are behind a strict router (it picks a new outside port for every destination). Peers behind another strict router may not reach you; those with a friendly one usually can. Enabling UPnP or port forwarding on your router helps.',
  unknown:
    'We could not learn what kind of router you are behind (no STUN server answered). Peers on your own network still work.',
}

const TECHNIQUE_WORDS: Record<string, string> = {
  lan: 'on your local network',
  direct: 'directly at its public address',
  simultaneous: 'by both sides punching at once',
  birthday: 'by trying many ports at once (strict routers)',
  'port-prediction': 'by guessing the next port its router will use',
  turn: "through your group's TURN relay (it sees only encrypted bytes)",
  remembered: 'at an address that worked before',
  accepted: 'they reached us',
}

const words = (list: unknown): string =>
  Array.isArray(list) ? list.map((t) => TECHNIQUE_WORDS[String(t)] ?? String(t)).join(', ') : ''

/** What a person can do about a failure, by the words in it. */
export function adviceFor(failure: string, ourNat: string, theirNat: string): string {
  if (/timed? ?out|timeout|no answer/i.test(failure)) {
    if (ourNat === 'hard' && theirNat === 'hard')
      return 'Both of you are behind strict routers, which rarely let each other in. Port forwarding or UPnP on either router fixes this.'
    return 'Packets did not get through. A firewall may block UDP; the other side may be offline. It retries by itself.'
  }
  if (/no address/i.test(failure))
    return 'The peer has not told us where it is yet. Make sure you both joined the same topic.'
  if (/refused|unreachable/i.test(failure))
    return 'The address answered but nothing listens there. The peer may have restarted; it retries by itself.'
  return 'It retries by itself. If it keeps failing, check that both sides are online and joined the same topic.'
}

function PeerDoctor({ p }: { p: PeerView }) {
  const a = p.attempt
  const c = p.connection
  return (
    <li class={`card doctor-peer ${p.connected ? '' : 'off'}`} data-peer={p.name}>
      <div>
        <strong>{p.name}</strong> <span class={`dot ${p.connected ? 'on' : ''}`} />{' '}
        <span class="muted">{p.connected ? 'connected' : 'not connected'}</span>
        {p.announcedVia.length ? (
          <div class="small-text muted">
            found through{' '}
            {p.announcedVia
              .map((v) => (v === 'mqtt' ? 'the broker' : 'the local network'))
              .join(' and ')}
          </div>
        ) : null}
        {c ? (
          <div class="small-text">
            Connected {c.initiator ? 'by us' : 'by them'} over {c.carrier.toUpperCase()}
            {c.path === 'turn' ? ' through a TURN server' : ''}
            {c.path === 'relay' ? ' through a relaying member' : ''} to {c.remoteAddress.host}:
            {c.remoteAddress.port}, round trip {Math.round(c.rttMs)} ms, {bytes(c.bytesReceived)} in
            / {bytes(c.bytesSent)} out, for {duration(Date.now() - c.connectedAt)}.
          </div>
        ) : null}
        {a ? (
          <div class="small-text">
            {a.tried.length ? `Tried: ${words(a.tried)}.` : 'Nothing tried yet.'}
            {a.used ? ` Worked: ${words([a.used])}` : ''}
            {a.elapsedMs !== undefined ? ` (${duration(a.elapsedMs)}).` : ''} {a.attempts} attempt
            {a.attempts === 1 ? '' : 's'}, {a.failures} failed. Their router: {a.theirNat}.
          </div>
        ) : null}
        {a?.failure ? (
          <div class="small-text">
            <span class="error">Last failure: {a.failure}.</span>{' '}
            {adviceFor(a.failure, a.ourNat, a.theirNat)}
          </div>
        ) : null}
        {a?.nextUpgradeAt !== undefined && p.connected ? (
          <div class="small-text muted">
            Relayed: looking for a direct path again in{' '}
            {duration(Math.max(0, a.nextUpgradeAt - Date.now()))}.
          </div>
        ) : null}
        {a?.nextAttemptAt !== undefined && !p.connected ? (
          <div class="small-text muted">
            Next try in {duration(Math.max(0, a.nextAttemptAt - Date.now()))}.
          </div>
        ) : null}
      </div>
    </li>
  )
}

/**
 * Discovery reports only changes; until one comes, the peers it found say whether it works.
 */
function quietDiscovery(peers: PeerView[], via: 'mqtt' | 'mdns'): string {
  const found = peers.filter((p) => p.announcedVia.includes(via)).length
  return found > 0
    ? `working (found ${found} peer${found === 1 ? '' : 's'})`
    : 'no peers found through it yet'
}

function Discovery({
  label,
  value,
  off,
}: {
  label: string
  value: DiscoveryEvent | undefined
  off: string
}) {
  return (
    <li>
      {label}: <strong>{value ? value.state : off}</strong>
      {value?.message ? <span class="muted"> — {value.message}</span> : null}
    </li>
  )
}

/** The connection doctor: our router, our discovery, and per peer what was tried and why it failed. */
export function DoctorTab({ store, state }: { store: Store; state: AppState }) {
  useEffect(() => {
    void store.refresh()
  }, [])
  const info = state.info
  const nat = info?.nat
  const natType = nat?.nat ?? 'unknown'
  const peers = [...state.peers.values()]
  return (
    <div class="doctor">
      <section aria-label="Your connection">
        <h2>Your connection</h2>
        <p data-testid="nat">
          Router type: <strong>{natType}</strong>. {NAT_WORDS[natType] ?? ''}
        </p>
        <ul class="facts">
          <li>
            Public address:{' '}
            {nat?.publicAddress
              ? `${nat.publicAddress.host}:${nat.publicAddress.port}`
              : 'not known'}
            {nat?.portAllocation && nat.portAllocation !== 'unknown'
              ? ` (ports ${nat.portAllocation})`
              : ''}
          </li>
          <li>STUN: {nat?.reason ?? 'no result yet'}</li>
          {info ? (
            <li>
              Listening on UDP{info.addresses.transport.tcp ? ' and TCP' : ''} port{' '}
              {info.addresses.transport.port} at {info.addresses.transport.host}; this UI at{' '}
              {info.addresses.api}
            </li>
          ) : null}
          <Discovery
            label="Broker (internet discovery)"
            value={state.discovery.mqtt}
            off={quietDiscovery(peers, 'mqtt')}
          />
          <Discovery
            label="mDNS (local network discovery)"
            value={state.discovery.mdns}
            off={quietDiscovery(peers, 'mdns')}
          />
        </ul>
      </section>
      <section aria-label="Peers">
        <h2>Peers</h2>
        {peers.length === 0 ? (
          <p class="muted">No peer announced itself yet. Join a topic first.</p>
        ) : null}
        <ul class="list">
          {peers.map((p) => (
            <PeerDoctor key={p.key} p={p} />
          ))}
        </ul>
      </section>
      {state.log.length ? (
        <details>
          <summary>Recent messages ({state.log.length})</summary>
          <ul class="small-text">
            {state.log.slice(-30).map((l) => (
              <li key={l.at} class={l.level}>
                {l.message}
              </li>
            ))}
          </ul>
        </details>
      ) : null}
    </div>
  )
}
