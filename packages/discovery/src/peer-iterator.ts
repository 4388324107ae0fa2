import type { TypedEventTarget } from 'main-event'
import type { DiscoveryEvents, PeerFound, PeersOptions } from './discovery'

/** Most events held for a slow consumer; older ones are dropped first. */
const MAX_BUFFERED = 1024

/**
 * Turns `peer` events into an async generator: the peers known now, then each new or changed
 * one, until `options.signal` aborts (the generator then throws its reason) or the consumer
 * stops iterating. The listener is removed in `finally` either way.
 */
export async function* iteratePeers(
  target: TypedEventTarget<DiscoveryEvents>,
  known: (topic?: PeersOptions['topic']) => PeerFound[],
  options: PeersOptions = {},
): AsyncGenerator<PeerFound> {
  const { signal, topic } = options
  signal?.throwIfAborted()
  const wanted = (p: PeerFound) => topic === undefined || p.topic.publicId === topic.publicId
  // The snapshot is taken in the same synchronous step as the listener is added (a generator
  // body starts on the first next()), so no event falls between them.
  const queue: PeerFound[] = known(topic).filter(wanted)
  let wake: (() => void) | undefined
  const onPeer = (event: CustomEvent<PeerFound>) => {
    if (!wanted(event.detail)) return
    queue.push(event.detail)
    if (queue.length > MAX_BUFFERED) queue.shift()
    wake?.()
  }
  const onAbort = () => wake?.()
  target.addEventListener('peer', onPeer)
  signal?.addEventListener('abort', onAbort)
  try {
    while (true) {
      signal?.throwIfAborted()
      const next = queue.shift()
      if (next) {
        yield next
        continue
      }
      await new Promise<void>((resolve) => {
        wake = resolve
      })
      wake = undefined
    }
  } finally {
    target.removeEventListener('peer', onPeer)
    signal?.removeEventListener('abort', onAbort)
  }
}
