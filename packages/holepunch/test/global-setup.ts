import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { hasCoturn, type StunServer, startStunServer } from '@harddrive-party/test-lab'
import type {} from 'vitest'
import type { TestProject } from 'vitest/node'

declare module 'vitest' {
  export interface ProvidedContext {
    /** coturn on 127.0.0.1 and 127.0.0.2 (same port), or empty when coturn is missing. */
    stunEndpoints: Array<{ host: string; port: number }>
    stunSkipReason: string
  }
}

let server: StunServer | undefined
let dir: string | undefined

// One real coturn (STUN only) on two loopback addresses for every unit test of this project.
export async function setup(project: TestProject): Promise<void> {
  if (!hasCoturn()) {
    project.provide('stunEndpoints', [])
    project.provide(
      'stunSkipReason',
      'coturn (turnserver) is not installed: apt-get install coturn',
    )
    return
  }
  dir = await mkdtemp(join(tmpdir(), 'hdp-holepunch-stun-'))
  server = await startStunServer({ dir })
  project.provide('stunEndpoints', server.endpoints)
  project.provide('stunSkipReason', '')
}

export async function teardown(): Promise<void> {
  await server?.stop()
  if (dir) await rm(dir, { recursive: true, force: true })
}
