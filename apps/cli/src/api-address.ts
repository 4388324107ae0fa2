import { join } from 'node:path'

/**
 * Where `start` writes its control API's URL, next to the token, so that client commands find
 * the running peer of a storage directory without repeating --ui-addr.
 */
export const apiUrlFile = (storageDir: string): string => join(storageDir, 'api-url')
