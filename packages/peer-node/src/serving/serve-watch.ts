import type { AnswerStream } from './answer-stream'

/**
 * The version of our shares that `watch` requests report (docs/protocol.md §7.4): the time of
 * the last change in ms, kept strictly increasing, so it also differs across restarts.
 */
export class SharesVersion {
  #version = Date.now()
  readonly #listeners = new Set<() => void>()

  get current(): number {
    return this.#version
  }

  /** Our shares changed: every watcher hears the new version. */
  bump(): void {
    this.#version = Math.max(Date.now(), this.#version + 1)
    for (const listener of this.#listeners) listener()
  }

  /** Calls `listener` after every bump; returns the function that unsubscribes. */
  onChange(listener: () => void): () => void {
    this.#listeners.add(listener)
    return () => this.#listeners.delete(listener)
  }
}

/**
 * Answers `watch`: the current version at once, then the latest version after each change,
 * until the requester ends its side. Versions are never queued: while one frame is being
 * written, later changes collapse into the single frame that follows it.
 */
export async function serveWatch(
  versions: SharesVersion,
  answer: AnswerStream,
  signal: AbortSignal,
): Promise<void> {
  let wake: (() => void) | undefined
  let dirty = false
  const unsubscribe = versions.onChange(() => {
    dirty = true
    wake?.()
  })
  let done = false
  const requesterDone = answer.requesterDone().finally(() => {
    done = true
    wake?.()
  })
  const onAbort = () => wake?.()
  signal.addEventListener('abort', onAbort)
  try {
    await answer.writeMessage({ type: 'shares-changed', version: versions.current })
    while (!done && !signal.aborted) {
      if (!dirty) {
        await new Promise<void>((resolve) => {
          wake = resolve
        })
        wake = undefined
        continue
      }
      dirty = false
      await answer.writeMessage({ type: 'shares-changed', version: versions.current })
    }
    signal.throwIfAborted()
    await requesterDone
    await answer.end()
  } finally {
    unsubscribe()
    signal.removeEventListener('abort', onAbort)
    requesterDone.catch(() => {})
  }
}
