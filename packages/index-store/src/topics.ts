import { isWireError, validateTopicName } from '@harddrive-party/wire-protocol'
import type { StoreDatabases } from './database'
import { IndexStoreError } from './errors'

/** A topic this peer joined at some point, and whether it is joined now. */
export interface TopicState {
  name: string
  joined: boolean
  /** When it was last joined or left (ms). */
  updatedAt: number
}

function checkName(name: unknown): string {
  try {
    return validateTopicName(name)
  } catch (err) {
    if (isWireError(err)) throw new IndexStoreError('BAD_REQUEST', err.message, { cause: err })
    throw err
  }
}

/** Remembers joined topics across restarts (peer-node rejoins the `joined` ones on start). */
export class TopicList {
  readonly #dbs: StoreDatabases

  /** @internal Left out of the published .d.ts (stripInternal): `dbs` holds lmdb's types. */
  constructor(dbs: StoreDatabases) {
    this.#dbs = dbs
  }

  /** All remembered topics, by name. */
  list(): TopicState[] {
    return [...this.#dbs.topics.getRange({})].map(({ value }) => value as TopicState)
  }

  get(name: string): TopicState | undefined {
    return this.#dbs.topics.get(checkName(name)) as TopicState | undefined
  }

  async #set(name: string, joined: boolean): Promise<TopicState> {
    const state: TopicState = { name: checkName(name), joined, updatedAt: Date.now() }
    await this.#dbs.topics.put(state.name, state)
    return state
  }

  join(name: string): Promise<TopicState> {
    return this.#set(name, true)
  }

  /** Keeps the topic in the list, marked as left. */
  leave(name: string): Promise<TopicState> {
    return this.#set(name, false)
  }

  /** Forgets the topic. False when it was not in the list. */
  async remove(name: string): Promise<boolean> {
    const key = checkName(name)
    return this.#dbs.env.transaction(() => {
      if (this.#dbs.topics.get(key) === undefined) return false
      void this.#dbs.topics.remove(key)
      return true
    })
  }
}
