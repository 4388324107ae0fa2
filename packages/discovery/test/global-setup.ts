import type { TestProject } from 'vitest/node'
import { startMosquitto } from '../src/testing'

declare module 'vitest' {
  export interface ProvidedContext {
    /** A mosquitto 2 broker on 127.0.0.1 shared by this project's tests (never killed by them). */
    mosquittoUrl: string
  }
}

export default async function setup(project: TestProject) {
  const broker = await startMosquitto()
  project.provide('mosquittoUrl', broker.url)
  return () => broker.stop()
}
