/**
 * @packageDocumentation
 * `@harddrive-party/peer-node/api-client`: what a controller of a running peer needs (a command
 * line, a script) and nothing of the peer itself, so it loads in a fraction of the main entry's
 * time (no LMDB, transport, discovery or HTTP server).
 *
 * @example
 * ```ts
 * import { createApiClient } from '@harddrive-party/peer-node/api-client'
 * const client = createApiClient({ url: 'http://127.0.0.1:3030', token })
 * console.log((await client.call('topics')).topics)
 * ```
 */
export type {
  ApiCallType,
  ApiClient,
  ApiClientCallOptions,
  ApiClientOptions,
} from './api/api-client'
export { createApiClient } from './api/api-client'
export { ApiError, isApiError } from './api/api-error'
export { defaultStorageDir } from './storage/default-storage-dir'
