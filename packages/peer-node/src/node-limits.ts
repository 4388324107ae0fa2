import type { Logger } from '@harddrive-party/wire-protocol'
import { PeerNodeError } from './errors'
import { readJsonFile, writeJsonFile } from './storage/json-file'

/** The limits a running node can change (`setLimits`): bytes/s, 0 = unlimited. */
export interface NodeLimits {
  /** Reads of our files served at once. */
  uploadSlots: number
  uploadBytesPerSecond: number
  uploadBytesPerSecondPerPeer: number
  downloadBytesPerSecond: number
  downloadBytesPerSecondPerPeer: number
}

/** Most upload slots (as the CLI's `--upload-slots`). */
const MAX_SLOTS = 64
/** Largest rate taken, bytes/s (1 TiB/s). */
const MAX_RATE = 2 ** 40

const KEYS = [
  'uploadSlots',
  'uploadBytesPerSecond',
  'uploadBytesPerSecondPerPeer',
  'downloadBytesPerSecond',
  'downloadBytesPerSecondPerPeer',
] as const satisfies ReadonlyArray<keyof NodeLimits>

/** Why `value` is not a valid `key`, or `undefined` when it is. */
function problem(key: keyof NodeLimits, value: unknown): string | undefined {
  const [min, max] = key === 'uploadSlots' ? [1, MAX_SLOTS] : [0, MAX_RATE]
  if (typeof value !== 'number' || !Number.isInteger(value) || value < min || value > max) {
    return `${key} must be an integer from ${min} to ${max}, got ${String(value).slice(0, 32)}`
  }
  return undefined
}

/** Checks changes given to `setLimits`: known keys, integers in range, at least one. */
export function validateLimitChanges(changes: Partial<NodeLimits>): Partial<NodeLimits> {
  const out: Partial<NodeLimits> = {}
  for (const [key, value] of Object.entries(changes)) {
    if (value === undefined) continue
    if (!(KEYS as readonly string[]).includes(key)) {
      throw new PeerNodeError('INVALID_OPTIONS', `unknown limit ${key.slice(0, 32)}`)
    }
    const why = problem(key as keyof NodeLimits, value)
    if (why !== undefined) throw new PeerNodeError('INVALID_OPTIONS', why)
    out[key as keyof NodeLimits] = value as number
  }
  if (Object.keys(out).length === 0) {
    throw new PeerNodeError('INVALID_OPTIONS', 'no limit to change')
  }
  return out
}

/**
 * The limits saved by earlier `setLimits` calls (`limits.json` in the storage directory). The
 * file is hostile like any disk bytes: a field that is not valid is dropped with a log line.
 */
export async function readSavedLimits(path: string, log: Logger): Promise<Partial<NodeLimits>> {
  const value = await readJsonFile(path).catch((err: unknown) => {
    log.error('cannot read %s: %s', path, String(err))
    return undefined
  })
  if (value === undefined) return {}
  const out: Partial<NodeLimits> = {}
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    log.error('%s is not a JSON object; the saved limits are ignored', path)
    return out
  }
  for (const key of KEYS) {
    if (!Object.hasOwn(value, key)) continue
    const v = (value as Record<string, unknown>)[key]
    if (problem(key, v) === undefined) out[key] = v as number
    else log.error('%s: %s is not valid; ignored', path, key)
  }
  return out
}

/**
 * The limits `setLimits` saved (`limits.json`): loaded at start, changed and saved again by
 * every call, in call order, so the file always ends with the last call's values.
 */
export class SavedLimits {
  readonly #path: string
  readonly #values: Partial<NodeLimits>
  #saving: Promise<void> = Promise.resolve()

  private constructor(path: string, values: Partial<NodeLimits>) {
    this.#path = path
    this.#values = values
  }

  static async load(path: string, log: Logger): Promise<SavedLimits> {
    return new SavedLimits(path, await readSavedLimits(path, log))
  }

  /** The saved values, split for the request server and the download queue. */
  get split() {
    return splitLimits(this.#values)
  }

  /** Validates `changes`, hands them to `apply` (which may throw: nothing is saved), saves. */
  async change(
    changes: Partial<NodeLimits>,
    apply: (split: ReturnType<typeof splitLimits>) => void,
  ): Promise<void> {
    const valid = validateLimitChanges(changes)
    apply(splitLimits(valid))
    Object.assign(this.#values, valid)
    const snapshot = { version: 1, ...this.#values }
    this.#saving = this.#saving.catch(() => {}).then(() => writeJsonFile(this.#path, snapshot))
    await this.#saving
  }
}

/** The serving and download halves of some limits, for the layers that apply them. */
export function splitLimits(limits: Partial<NodeLimits>) {
  return {
    serving: {
      ...(limits.uploadSlots !== undefined ? { uploadSlots: limits.uploadSlots } : {}),
      ...(limits.uploadBytesPerSecond !== undefined
        ? { uploadBytesPerSecond: limits.uploadBytesPerSecond }
        : {}),
      ...(limits.uploadBytesPerSecondPerPeer !== undefined
        ? { uploadBytesPerSecondPerPeer: limits.uploadBytesPerSecondPerPeer }
        : {}),
    },
    downloads: {
      ...(limits.downloadBytesPerSecond !== undefined
        ? { bytesPerSecond: limits.downloadBytesPerSecond }
        : {}),
      ...(limits.downloadBytesPerSecondPerPeer !== undefined
        ? { bytesPerSecondPerPeer: limits.downloadBytesPerSecondPerPeer }
        : {}),
    },
  }
}
